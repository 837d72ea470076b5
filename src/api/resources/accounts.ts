/**
 * /api/v1/accounts: customers, with limits over all their trunks (`trunkline
 * account`). `cpm` and `maxCalls` null = unlimited; DELETE refused (409)
 * while the account has trunks, unless `?cascade=true`.
 */
import { z } from 'zod';
import { accountViews as v } from '../shapes.js';
import { defineResource } from '../resource.js';
import { accountJson as out } from '../../store/json.js';
import { patchAccount } from '../patch.js';

const removeQuery = z.strictObject({
  cascade: z.enum(['true', 'false']).optional().describe('also remove its trunks and their DIDs'),
});

export default defineResource({
  name: 'accounts',
  key: 'name',
  description: 'customers, with limits over all their trunks',
  object: v.object,
  list: { run: async (ctx) => (await ctx.store.accounts.list()).map(out) },
  get: async (ctx, key) => out(await ctx.store.accounts.show(key)),
  create: {
    body: v.create,
    run: async (ctx, b) =>
      out(
        await ctx.store.accounts.add({
          name: b.name,
          cpm: b.cpm ?? null,
          maxCalls: b.maxCalls ?? null,
          sellBelowCost: b.sellBelowCost ?? false,
        }),
      ),
  },
  update: {
    body: v.patch,
    run: async (ctx, key, b) => out(await patchAccount(ctx.store, key, b)),
  },
  remove: {
    query: removeQuery,
    run: async (ctx, key, q) => {
      await ctx.store.accounts.rm(key, { cascade: q.cascade === 'true' });
    },
  },
});
