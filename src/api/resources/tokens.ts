/**
 * /api/v1/tokens: the API's own tokens (`trunkline token`). POST answers
 * the token once, in `token`; the store keeps its SHA-256 only.
 */
import { z } from 'zod';
import type { ApiToken } from '../../store/repos/tokens.js';
import { defineResource, views } from '../resource.js';
import { iso } from './common.js';

const schema = z.object({
  name: z.string().describe('who or what uses it'),
  role: z.enum(['admin', 'read']).describe('admin reads and writes; read only reads'),
  token: z.string().optional().describe('the bearer token, in the answer to POST only'),
  createdAt: z.string().describe('ISO 8601'),
  lastUsedAt: z.string().nullable().describe('ISO 8601, to the minute; null when never used'),
});
const v = views(schema, { key: 'name', readOnly: ['token', 'createdAt', 'lastUsedAt'] });

const out = (t: ApiToken) => ({ name: t.name, role: t.role, createdAt: iso(t.createdAt), lastUsedAt: t.lastUsedAt === null ? null : iso(t.lastUsedAt) });

export default defineResource({
  name: 'tokens',
  key: 'name',
  description: 'API bearer tokens (the token is shown once, at creation)',
  object: v.object,
  list: { run: async (ctx) => (await ctx.tokens.list()).map(out) },
  get: async (ctx, key) => out(await ctx.tokens.show(key)),
  create: {
    body: v.create,
    run: async (ctx, body) => {
      const t = await ctx.tokens.add(body.name, body.role);
      return { ...out(t), token: t.token };
    },
  },
  remove: {
    run: async (ctx, key) => {
      await ctx.tokens.rm(key);
    },
  },
});
