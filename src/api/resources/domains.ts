/** /api/v1/domains: the local SIP domains (`trunkline domain`). */
import { z } from 'zod';
import { defineResource, views } from '../resource.js';
import { iso } from './common.js';

const schema = z.object({
  domain: z.string().describe('host name or IP address; the digest realm of its subscribers'),
  createdAt: z.string().describe('ISO 8601'),
});
const v = views(schema, { key: 'domain', readOnly: ['createdAt'] });
const removeQuery = z.strictObject({
  cascade: z.enum(['true', 'false']).optional().describe('also remove its subscribers, their aliases and registrations'),
});

const out = (d: { domain: string; createdAt: number }) => ({ domain: d.domain, createdAt: iso(d.createdAt) });

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
