/** /api/v1/bans: bans by hand and the server's own (flood, brute force) — `trunkline ban`. */
import { banViews as v } from '../shapes.js';
import { defineResource } from '../resource.js';
import { BanRepo, normalizeBanIp } from '../../store/repos/bans.js';
import { NotFoundError } from '../../store/errors.js';
import { banJson as out } from '../../store/json.js';

export default defineResource({
  name: 'bans',
  key: 'ip',
  description: 'banned source addresses; the running server applies changes within 2 s',
  object: v.object,
  list: { run: async (ctx) => (await new BanRepo(ctx.store.ctx).list()).map(out) },
  get: async (ctx, key) => {
    const ip = normalizeBanIp(key);
    const b = (await new BanRepo(ctx.store.ctx).list()).find((x) => x.ip === ip);
    if (b === undefined) throw new NotFoundError(`${ip} is not banned`);
    return out(b);
  },
  create: {
    body: v.create,
    run: async (ctx, body) =>
      out(
        await new BanRepo(ctx.store.ctx).add(body.ip, {
          seconds: body.for ?? null,
          ...(body.reason !== undefined ? { reason: body.reason } : {}),
          source: 'manual',
        }),
      ),
  },
  remove: {
    run: async (ctx, key) => {
      await new BanRepo(ctx.store.ctx).rm(key);
    },
  },
});
