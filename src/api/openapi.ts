/**
 * /api/v1/openapi.json: the OpenAPI 3.1 document, made from the registry's
 * schemas (the same zod schemas that check the requests).
 */
import type { z } from 'zod';
import { jsonSchema, type Resource } from './resource.js';

type Json = Record<string, unknown>;

const ERROR = { $ref: '#/components/schemas/Error' };
const errors = (...codes: number[]): Json =>
  Object.fromEntries(
    codes.map((c) => [
      String(c),
      { description: STATUS_TEXT[c] ?? 'error', content: { 'application/json': { schema: ERROR } } },
    ]),
  );

const STATUS_TEXT: Record<number, string> = {
  400: 'a bad field (named in the message)',
  401: 'no or unknown token',
  403: 'a read token writing',
  404: 'unknown object',
  409: 'exists already, or others depend on it',
};

function queryParams(schema: z.ZodType | undefined): Json[] {
  if (schema === undefined) return [];
  const s = jsonSchema(schema, 'input') as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(s.properties ?? {}).map(([name, p]) => ({
    name,
    in: 'query',
    required: (s.required ?? []).includes(name),
    schema: p,
    ...(typeof p.description === 'string' && { description: p.description }),
  }));
}

export function openApiDocument(resources: readonly Resource[], version: string, extra: Json = {}): Json {
  const paths: Json = {};
  const schemas: Json = { Error: { type: 'object', properties: { error: { type: 'string' } }, required: ['error'] } };
  for (const r of resources) {
    const tag = r.name;
    const objRef = { $ref: `#/components/schemas/${r.name}` };
    schemas[r.name] = jsonSchema(r.object, 'output');
    const ok = (code: string, schema: Json | null, description: string): Json => ({
      [code]: { description, ...(schema !== null && { content: { 'application/json': { schema } } }) },
    });
    const coll: Json = {};
    if (r.list) {
      coll.get = {
        tags: [tag],
        summary: `list ${r.name}`,
        parameters: queryParams(r.list.query),
        responses: { ...ok('200', { type: 'array', items: objRef }, r.description), ...errors(400, 401) },
      };
    }
    if (r.create) {
      schemas[`${r.name}.create`] = jsonSchema(r.create.body, 'input');
      coll.post = {
        tags: [tag],
        summary: `create in ${r.name}`,
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: `#/components/schemas/${r.name}.create` } } },
        },
        responses: { ...ok('201', objRef, 'created'), ...errors(400, 401, 403, 404, 409) },
      };
    }
    if (r.upload) {
      coll.post = {
        tags: [tag],
        summary: r.upload.summary,
        parameters: queryParams(r.upload.query),
        requestBody: { required: true, content: { [r.upload.contentType]: { schema: { type: 'string' } } } },
        responses: { 201: { description: 'imported' }, ...errors(400, 401, 403, 404, 409) },
      };
    }
    if (Object.keys(coll).length > 0) paths[`/api/v1/${r.name}`] = coll;
    const one: Json = {};
    const keyParam = [{ name: r.key, in: 'path', required: true, schema: { type: 'string' } }];
    if (r.get)
      one.get = {
        tags: [tag],
        summary: `one of ${r.name}`,
        parameters: keyParam,
        responses: { ...ok('200', objRef, 'the object'), ...errors(401, 404) },
      };
    if (r.update) {
      schemas[`${r.name}.patch`] = jsonSchema(r.update.body, 'input');
      one.patch = {
        tags: [tag],
        summary: `change one of ${r.name}`,
        parameters: keyParam,
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: `#/components/schemas/${r.name}.patch` } } },
        },
        responses: { ...ok('200', objRef, 'the changed object'), ...errors(400, 401, 403, 404, 409) },
      };
    }
    if (r.remove) {
      one.delete = {
        tags: [tag],
        summary: `remove one of ${r.name}`,
        parameters: [...keyParam, ...queryParams(r.remove.query)],
        responses: { ...ok('204', null, 'removed'), ...errors(401, 403, 404, 409) },
      };
    }
    if (Object.keys(one).length > 0) paths[`/api/v1/${r.name}/{${r.key}}`] = one;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Trunkline API', version },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths: { ...paths, ...extra },
    components: { schemas, securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  };
}
