/**
 * /api/v1/routes: outbound routes (`trunkline route`), longest prefix of the
 * dialled number wins, `+` alone is the default route; carriers are tried in
 * order. The key is the prefix (`+`, `+9122`; `+` as is or %2B in the path).
 * PATCH replaces the carriers (and the mode and weights when given). A
 * route's `mode`: priority (default, as listed), lcr (cheapest rate for the
 * number first), weighted (random by `weights`, one per carrier).
 */
import { NotFoundError } from '../../store/errors.js';
import { parseRoutePrefix } from '../../trunking/validate.js';
import { routeViews as v } from '../shapes.js';
import { defineResource } from '../resource.js';
import { patchRoute } from '../patch.js';
import { routeJson as out } from '../../store/json.js';

export default defineResource({
  name: 'routes',
  key: 'prefix',
  description: 'outbound routes: the longest prefix of the dialled number wins; + alone is the default',
  object: v.object,
  list: { run: async (ctx) => (await ctx.store.routes.list()).map(out) },
  get: async (ctx, key) => {
    const p = parseRoutePrefix(key, 'prefix');
    const found = (await ctx.store.routes.list()).find((r) => r.prefix === p);
    if (found === undefined) throw new NotFoundError(`unknown route ${p}`);
    return out(found);
  },
  create: {
    body: v.create,
    run: async (ctx, b) =>
      out(
        await ctx.store.routes.add(b.prefix, b.carriers, {
          ...(b.mode !== undefined && { mode: b.mode }),
          ...(b.weights !== undefined && { weights: b.weights }),
        }),
      ),
  },
  update: {
    body: v.patch,
    run: async (ctx, key, b) => out(await patchRoute(ctx.store, key, b)),
  },
  remove: {
    run: async (ctx, key) => {
      await ctx.store.routes.rm(key);
    },
  },
});
