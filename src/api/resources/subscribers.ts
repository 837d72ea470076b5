/**
 * /api/v1/subscribers: digest users (`trunkline subscriber`). The password
 * comes in a POST or PATCH body and is never returned: the store keeps only
 * its HA1s (MD5, SHA-256).
 */
import { z } from 'zod';
import { parseAddress } from '../../store/validate.js';
import { subscriberViews as v } from '../shapes.js';
import { defineResource } from '../resource.js';
import { patchSubscriber } from '../patch.js';
import { subscriberJson as out } from '../../store/json.js';

const listQuery = z.strictObject({ domain: z.string().optional().describe("only this domain's") });

export default defineResource({
  name: 'subscribers',
  key: 'subscriber',
  description: 'digest users USER@DOMAIN; the store keeps HA1 (MD5, SHA-256), never the password',
  object: v.object,
  list: {
    query: listQuery,
    run: async (ctx, q) =>
      (await ctx.store.subscribers.list(q.domain !== undefined ? { domain: q.domain } : {})).map(out),
  },
  get: async (ctx, key) => {
    const a = parseAddress(key, 'subscriber');
    return out(await ctx.store.subscribers.show(a.username, a.domain));
  },
  create: {
    body: v.create,
    run: async (ctx, body) => {
      const a = parseAddress(body.subscriber, 'subscriber');
      return out(await ctx.store.subscribers.add(a.username, a.domain, body.password));
    },
  },
  update: {
    body: v.patch,
    run: async (ctx, key, body) => out(await patchSubscriber(ctx.store, key, body)),
  },
  remove: {
    run: async (ctx, key) => {
      const a = parseAddress(key, 'subscriber');
      await ctx.store.subscribers.rm(a.username, a.domain);
    },
  },
});
