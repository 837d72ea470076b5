/** /api/v1/bans: bans by hand and the server's own (flood, brute force) — `trunkline ban`. */
import { z } from 'zod';
import { defineResource, views } from '../resource.js';
import { BanRepo, normalizeBanIp, type BanRow } from '../../store/repos/bans.js';
import { NotFoundError } from '../../store/errors.js';
import { iso } from './common.js';

const schema = z.object({
  ip: z.string().describe('IPv4 or IPv6 address'),
  for: z.number().int().positive().optional().describe('seconds until it ends by itself; absent: until lifted'),
  reason: z.string().max(200).optional().describe('why (shown in ban list)'),
  source: z.string().describe('manual, flood or brute-force'),
  expiresAt: z.string().nullable().describe('ISO 8601, null = until lifted'),
  createdAt: z.string().describe('ISO 8601'),
});
const v = views(schema, { key: 'ip', readOnly: ['source', 'expiresAt', 'createdAt'], writeOnly: ['for'] });

const out = (b: BanRow) => ({ ip: b.ip, reason: b.reason, source: b.source, expiresAt: b.expiresAt === null ? null : iso(b.expiresAt), createdAt: iso(b.createdAt) });

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
    run: async (ctx, body) => out(await new BanRepo(ctx.store.ctx).add(body.ip, { seconds: body.for ?? null, ...(body.reason !== undefined ? { reason: body.reason } : {}), source: 'manual' })),
  },
  remove: {
    run: async (ctx, key) => {
      await new BanRepo(ctx.store.ctx).rm(key);
    },
  },
});
