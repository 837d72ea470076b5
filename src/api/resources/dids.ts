/**
 * /api/v1/dids: numbers (`+912240001234`) and prefixes (`+9122400012*`)
 * pointed at a trunk (`trunkline did`). The key is the number as added; `+`
 * and `*` may be written as is in the URL path (or as %2B, %2A). PATCH
 * `{"trunk": T}` moves a DID to another trunk (`trunkline did set`).
 * The list is whole, or pages by number with `?limit=N` (and the Next-Cursor).
 */
import { z } from 'zod';
import { namePage, optionalPageQuery } from '../pagination.js';
import { didViews as v } from '../shapes.js';
import { defineResource } from '../resource.js';
import { patchDid } from '../patch.js';
import { didJson as out } from '../../store/json.js';

const listQuery = z.strictObject({
  trunk: z.string().optional().describe("only this trunk's"),
  account: z.string().optional().describe("only this account's"),
  ...optionalPageQuery,
});

export default defineResource({
  name: 'dids',
  key: 'number',
  description: "E.164 numbers and prefixes owned by a trunk's account",
  object: v.object,
  list: {
    query: listQuery,
    run: (ctx, q) =>
      namePage(
        q,
        async (w) =>
          (
            await ctx.store.dids.list({
              ...(q.trunk !== undefined && { trunk: q.trunk }),
              ...(q.account !== undefined && { account: q.account }),
              ...w,
            })
          ).map(out),
        (d) => d.number,
      ),
  },
  get: async (ctx, key) => out(await ctx.store.dids.show(key)),
  create: { body: v.create, run: async (ctx, b) => out(await ctx.store.dids.add(b.number, b.trunk)) },
  update: { body: v.patch, run: async (ctx, key, b) => out(await patchDid(ctx.store, key, b)) },
  remove: {
    run: async (ctx, key) => {
      await ctx.store.dids.rm(key);
    },
  },
});
