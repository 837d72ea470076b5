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
      return out(await ctx.store.carriers.add(input));
    },
  },
  update: {
    body: v.patch,
    run: async (ctx, key, b) => {
      const c = await ctx.store.carriers.show(key);
      const input: CarrierInput = {
        name: c.name,
        gateways: b.gateways ?? c.gateways,
        username: b.username !== undefined ? b.username : c.username,
        register: b.register ?? c.register,
        prefix: b.prefix !== undefined ? b.prefix : c.prefix,
        plus: b.plus ?? c.plus,
        media: b.media ?? c.media,
        codecs: b.codecs ?? c.codecs,
      };
      // Left out: the store keeps the stored password while the username stays.
      if (b.password !== undefined) input.password = b.password;
      return out(await ctx.store.carriers.update(input));
    },
  },
  remove: {
    run: async (ctx, key) => {
      await ctx.store.carriers.rm(key);
    },
  },
});
