/** /api/v1/domains: the local SIP domains (`trunkline domain`). */
import { z } from 'zod';
import { domainViews as v } from '../shapes.js';
import { defineResource } from '../resource.js';
import { domainJson as out } from '../../store/json.js';

const removeQuery = z.strictObject({
  cascade: z
    .enum(['true', 'false'])
    .optional()
    .describe('also remove its subscribers, their aliases and registrations'),
});

export default defineResource({
  name: 'domains',
  key: 'domain',
  description: "local SIP domains (the registrar's realms)",
  object: v.object,
  list: { run: async (ctx) => (await ctx.store.domains.list()).map(out) },
  get: async (ctx, key) => out(await ctx.store.domains.show(key)),
  create: { body: v.create, run: async (ctx, body) => out(await ctx.store.domains.add(body.domain)) },
  remove: {
    query: removeQuery,
    run: async (ctx, key, q) => {
      await ctx.store.domains.rm(key, { cascade: q.cascade === 'true' });
    },
  },
});
