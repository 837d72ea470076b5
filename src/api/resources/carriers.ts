/**
 * /api/v1/carriers: upstream carriers and their gateways in priority order
 * (`trunkline carrier`). `password` is accepted in POST and PATCH and never
 * returned (`hasPassword` says whether there is one); a PATCH that leaves
 * the username as it is keeps the stored password. DELETE refused (409)
 * while a route names the carrier.
 */
import type { CarrierInput } from '../../store/index.js';
import { carrierJson as out } from '../../store/json.js';
import { carrierViews as v } from '../shapes.js';
import { defineResource } from '../resource.js';
import { patchCarrier } from '../patch.js';

export default defineResource({
  name: 'carriers',
  key: 'name',
  description: 'upstream carriers and their gateways, in priority order (the password is never returned)',
  object: v.object,
  list: { run: async (ctx) => (await ctx.store.carriers.list()).map(out) },
  get: async (ctx, key) => out(await ctx.store.carriers.show(key)),
  create: {
    body: v.create,
    run: async (ctx, b) => {
      const input: CarrierInput = { name: b.name, gateways: b.gateways };
      if (b.username !== undefined) input.username = b.username;
      if (b.password !== undefined) input.password = b.password;
      if (b.register !== undefined) input.register = b.register;
      if (b.prefix !== undefined) input.prefix = b.prefix;
      if (b.plus !== undefined) input.plus = b.plus;
      if (b.media !== undefined) input.media = b.media;
      if (b.codecs !== undefined) input.codecs = b.codecs;
      if (b.dialPlan !== undefined) input.dialPlan = b.dialPlan;
      return out(await ctx.store.carriers.add(input));
    },
  },
  update: {
    body: v.patch,
    run: async (ctx, key, b) => out(await patchCarrier(ctx.store, key, b)),
  },
  remove: {
    run: async (ctx, key) => {
      await ctx.store.carriers.rm(key);
    },
  },
});
