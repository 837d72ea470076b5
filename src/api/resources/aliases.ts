/**
 * /api/v1/aliases: numbers or names that reach a subscriber (`trunkline
 * alias`). The key is the alias as added (`+912240001234`, `+9122400012*`,
 * `sales`); `+` and `*` may be written as is in the URL.
 */
import { z } from 'zod';
import type { Alias } from '../../store/index.js';
import { NotFoundError } from '../../store/errors.js';
import { parseAddress, parseAlias } from '../../store/validate.js';
import { defineResource, views } from '../resource.js';
import { iso } from './common.js';

const schema = z.object({
  alias: z.string().describe('an E.164 number (+912240001234), a prefix ending in * (+9122400012*), or a name'),
  subscriber: z.string().describe('USER@DOMAIN it reaches'),
  username: z.string(),
  domain: z.string(),
  createdAt: z.string().describe('ISO 8601'),
});
const v = views(schema, { key: 'alias', readOnly: ['username', 'domain', 'createdAt'] });
const listQuery = z.strictObject({
  subscriber: z.string().optional().describe('only the aliases of USER@DOMAIN'),
  domain: z.string().optional().describe("only those of this domain's subscribers"),
});

const out = (a: Alias) => ({
  alias: a.alias,
  subscriber: `${a.username}@${a.domain}`,
  username: a.username,
  domain: a.domain,
  createdAt: iso(a.createdAt),
});

export default defineResource({
  name: 'aliases',
  key: 'alias',
  description: 'numbers or names that reach a subscriber',
  object: v.object,
  list: {
    query: listQuery,
    run: async (ctx, q) => {
      const a = q.subscriber !== undefined ? parseAddress(q.subscriber, 'subscriber') : undefined;
      const domain = a?.domain ?? q.domain;
      return (await ctx.store.aliases.list({ ...(a && { username: a.username }), ...(domain !== undefined && { domain }) })).map(out);
    },
  },
  get: async (ctx, key) => {
    const alias = parseAlias(key).alias;
    const found = (await ctx.store.aliases.list()).find((a) => a.alias === alias);
    if (found === undefined) throw new NotFoundError(`unknown alias ${alias}`);
    return out(found);
  },
  create: {
    body: v.create,
    run: async (ctx, body) => {
      const alias = parseAlias(body.alias).alias;
      const a = parseAddress(body.subscriber, 'subscriber');
      return out(await ctx.store.aliases.add(alias, a.username, a.domain));
    },
  },
  remove: {
    run: async (ctx, key) => {
      await ctx.store.aliases.rm(parseAlias(key).alias);
    },
  },
});
