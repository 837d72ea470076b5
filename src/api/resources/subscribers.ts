/**
 * /api/v1/subscribers: digest users (`trunkline subscriber`). The password
 * comes in a POST or PATCH body and is never returned: the store keeps only
 * its HA1s (MD5, SHA-256).
 */
import { z } from 'zod';
import type { Subscriber } from '../../store/index.js';
import { parseAddress } from '../../store/validate.js';
import { defineResource, views } from '../resource.js';
import { iso } from './common.js';

const schema = z.object({
  subscriber: z.string().describe('USER@DOMAIN (its domain must exist)'),
  password: z.string().describe('the digest password; accepted, never returned'),
  username: z.string(),
  domain: z.string(),
  createdAt: z.string().describe('ISO 8601'),
  updatedAt: z.string().describe('ISO 8601'),
});
const v = views(schema, { key: 'subscriber', readOnly: ['username', 'domain', 'createdAt', 'updatedAt'], writeOnly: ['password'] });
const listQuery = z.strictObject({ domain: z.string().optional().describe("only this domain's") });

const out = (s: Subscriber) => ({
  subscriber: `${s.username}@${s.domain}`,
  username: s.username,
  domain: s.domain,
  createdAt: iso(s.createdAt),
  updatedAt: iso(s.updatedAt),
});

export default defineResource({
  name: 'subscribers',
  key: 'subscriber',
  description: 'digest users USER@DOMAIN; the store keeps HA1 (MD5, SHA-256), never the password',
  object: v.object,
  list: {
    query: listQuery,
    run: async (ctx, q) => (await ctx.store.subscribers.list(q.domain !== undefined ? { domain: q.domain } : {})).map(out),
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
    run: async (ctx, key, body) => {
      const a = parseAddress(key, 'subscriber');
      if (body.password === undefined) return out(await ctx.store.subscribers.show(a.username, a.domain));
      return out(await ctx.store.subscribers.passwd(a.username, a.domain, body.password));
    },
  },
  remove: {
    run: async (ctx, key) => {
      const a = parseAddress(key, 'subscriber');
      await ctx.store.subscribers.rm(a.username, a.domain);
    },
  },
});
