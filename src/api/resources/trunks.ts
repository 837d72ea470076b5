/**
 * /api/v1/trunks: customers' trunks (`trunkline trunk`): a static peer
 * (`ip`, CIDRs) or a registering PBX (`register`, USER@DOMAIN), exactly one
 * of them. PATCH changes the fields given (giving `register` drops `ip` and
 * the other way round); the store checks each value and names the field.
 * An `ip` range holding a carrier gateway's address or every address is
 * refused (409) unless the body says `"force": true` (POST and PATCH).
 * DELETE refused (409) while the trunk has DIDs, unless `?cascade=true`.
 * The list is whole, or pages by name with `?limit=N` (and the Next-Cursor).
 */
import { z } from 'zod';
import { TrunkRangeError, type TrunkInput } from '../../store/index.js';
import { namePage, optionalPageQuery } from '../pagination.js';
import { trunkViews as v } from '../shapes.js';
import { defineResource } from '../resource.js';
import { trunkJson as out } from '../../store/json.js';
import { ApiError } from '../errors.js';
import { patchTrunk } from '../patch.js';

const listQuery = z.strictObject({
  account: z.string().optional().describe("only this account's"),
  ...optionalPageQuery,
});
const removeQuery = z.strictObject({ cascade: z.enum(['true', 'false']).optional().describe('also remove its DIDs') });

/** A write that a TrunkRangeError stopped, said with this API's option. */
async function forced<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (err instanceof TrunkRangeError) throw new ApiError(409, `ip: ${err.problem}; "force": true adds it anyway`);
    throw err;
  }
}

export default defineResource({
  name: 'trunks',
  key: 'name',
  description: "customers' trunks: a static peer (ip) or a registering PBX (register)",
  object: v.object,
  list: {
    query: listQuery,
    run: (ctx, q) =>
      namePage(
        q,
        async (w) =>
          (await ctx.store.trunks.list({ ...(q.account !== undefined && { account: q.account }), ...w })).map(out),
        (t) => t.name,
      ),
  },
  get: async (ctx, key) => out(await ctx.store.trunks.show(key)),
  create: {
    body: v.create,
    run: async (ctx, b) => {
      const input: TrunkInput = { name: b.name, account: b.account };
      if (b.ip !== undefined) input.ip = b.ip;
      if (b.register !== undefined) input.register = b.register;
      if (b.transport !== undefined) input.transport = b.transport;
      if (b.tlsFingerprint !== undefined) input.tlsFingerprint = b.tlsFingerprint;
      if (b.dest !== undefined) input.dest = b.dest;
      if (b.cpm !== undefined) input.cpm = b.cpm;
      if (b.maxCalls !== undefined) input.maxCalls = b.maxCalls;
      if (b.media !== undefined) input.media = b.media;
      if (b.codecs !== undefined) input.codecs = b.codecs;
      if (b.dialPlan !== undefined) input.dialPlan = b.dialPlan;
      return out(await forced(() => ctx.store.trunks.add(input, { force: b.force === true })));
    },
  },
  update: {
    body: v.patch,
    run: async (ctx, key, b) => {
      return out(await forced(() => patchTrunk(ctx.store, key, b)));
    },
  },
  remove: {
    query: removeQuery,
    run: async (ctx, key, q) => {
      await ctx.store.trunks.rm(key, { cascade: q.cascade === 'true' });
    },
  },
});
