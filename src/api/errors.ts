/**
 * The API's errors: every failure is `{"error": "..."}` with its status.
 *
 * - ApiError: thrown by the API itself (401, 403, 404, 405, 400).
 * - The store's typed errors carry their status (NotFoundError 404,
 *   ConflictError 409, ValidationError 400 naming the field).
 * - A body or query that does not fit the resource's schema: 400 naming the
 *   field (`password: expected string`, `unknown field "pasword"`).
 * - Fastify's own (bad JSON 400, wrong content type 415, too large 413).
 * - Anything else: 500 with a fixed message; the details go to the log.
 */
import type { z } from 'zod';
import { StoreError } from '../store/errors.js';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

/** A request part (body, query) that failed its schema: 400, naming the field. */
export class SchemaError extends ApiError {
  constructor(issues: readonly z.core.$ZodIssue[], part: 'body' | 'query' | 'params') {
    super(400, describeIssues(issues, part));
  }
}

function fieldOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out;
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v); // a cycle or a BigInt inside: JSON cannot show it
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Zod issues as one line: `field: problem; other: problem`. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], part: string): string {
  const lines: string[] = [];
  for (const iss of issues) {
    const field = fieldOf(iss.path);
    if (iss.code === 'unrecognized_keys') {
      for (const k of iss.keys) lines.push(`unknown field ${JSON.stringify(fieldOf([...iss.path, k]))}`);
      continue;
    }
    let problem: string;
    const input = (iss as { input?: unknown }).input;
    if (iss.code === 'invalid_type') {
      problem =
        input === undefined && field !== ''
          ? 'required'
          : `expected ${iss.expected === 'object' && field === '' ? `a JSON object as the ${part}` : iss.expected}, got ${show(input)}`;
    } else {
      problem = iss.message.replace(/^Invalid input: /, '');
      if (input !== undefined && !problem.includes('got ')) problem += `, got ${show(input)}`;
    }
    lines.push(field === '' ? problem : `${field}: ${problem}`);
  }
  return lines.join('; ') || `bad ${part}`;
}

/** The status and message of anything thrown by a handler or by fastify. */
export function statusOf(err: unknown): {
  status: number;
  message: string;
  headers: Record<string, string>;
  internal: boolean;
} {
  if (err instanceof ApiError)
    return { status: err.status, message: err.message, headers: err.headers, internal: false };
  if (err instanceof StoreError && err.status < 500)
    return { status: err.status, message: err.message, headers: {}, internal: false };
  const fst = err as { statusCode?: unknown; code?: unknown; message?: unknown } | null;
  if (
    fst !== null &&
    typeof fst === 'object' &&
    typeof fst.statusCode === 'number' &&
    fst.statusCode >= 400 &&
    fst.statusCode < 500
  ) {
    const message = typeof fst.message === 'string' && fst.message !== '' ? fst.message : 'bad request';
    return { status: fst.statusCode, message, headers: {}, internal: false };
  }
  return { status: 500, message: 'internal error (see the server log)', headers: {}, internal: true };
}
