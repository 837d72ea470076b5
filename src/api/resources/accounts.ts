/**
 * /api/v1/accounts: customers, with limits over all their trunks (`trunkline
 * account`). `cpm` and `maxCalls` null = unlimited; DELETE refused (409)
 * while the account has trunks, unless `?cascade=true`.
 */
import { z } from 'zod';
import type { Account } from '../../trunking/model.js';
import { defineResource, views } from '../resource.js';
import { iso } from './common.js';

const limit = z.number().int().min(1).max(1_000_000).nullable();
const schema = z.object({
  name: z.string().describe('letters, digits, . _ -'),
  cpm: limit.optional().describe('calls per minute over all its trunks; null = unlimited'),
  maxCalls: limit.optional().describe('concurrent calls over all its trunks; null = unlimited'),
  createdAt: z.string().describe('ISO 8601'),
});
const v = views(schema, { key: 'name', readOnly: ['createdAt'] });
const removeQuery = z.strictObject({
  cascade: z.enum(['true', 'false']).optional().describe('also remove its trunks and their DIDs'),
});

const out = (a: Account) => ({ name: a.name, cpm: a.cpm, maxCalls: a.maxCalls, createdAt: iso(a.createdAt) });

export default defineResource({
  name: 'accounts',
  key: 'name',
  description: 'customers, with limits over all their trunks',
  object: v.object,
  list: { run: async (ctx) => (await ctx.store.accounts.list()).map(out) },
  get: async (ctx, key) => out(await ctx.store.accounts.show(key)),
  create: {
    body: v.create,
    run: async (ctx, b) => out(await ctx.store.accounts.add({ name: b.name, cpm: b.cpm ?? null, maxCalls: b.maxCalls ?? null })),
  },
  update: {
    body: v.patch,
    run: async (ctx, key, b) =>
      out(await ctx.store.accounts.update(key, { ...(b.cpm !== undefined && { cpm: b.cpm }), ...(b.maxCalls !== undefined && { maxCalls: b.maxCalls }) })),
  },
  remove: {
    query: removeQuery,
    run: async (ctx, key, q) => {
      await ctx.store.accounts.rm(key, { cascade: q.cascade === 'true' });
    },
  },
});
