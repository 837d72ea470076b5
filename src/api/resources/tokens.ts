/**
 * /api/v1/tokens: the API's own tokens (`trunkline token`). POST answers
 * the token once, in `token`; the store keeps its SHA-256 only.
 */
import { tokenViews as v } from '../shapes.js';
import { defineResource } from '../resource.js';
import { tokenJson as out } from '../../store/json.js';

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
