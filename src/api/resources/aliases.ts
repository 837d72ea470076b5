/**
 * /api/v1/aliases: numbers or names that reach a subscriber (`trunkline
 * alias`). The key is the alias as added (`+912240001234`, `+9122400012*`,
 * `sales`); `+` and `*` may be written as is in the URL.
 */
import { z } from 'zod';
import { NotFoundError } from '../../store/errors.js';
import { parseAddress, parseAlias } from '../../store/validate.js';
import { aliasViews as v } from '../shapes.js';
import { defineResource } from '../resource.js';
import { aliasJson as out } from '../../store/json.js';

const listQuery = z.strictObject({
  subscriber: z.string().optional().describe('only the aliases of USER@DOMAIN'),
  domain: z.string().optional().describe("only those of this domain's subscribers"),
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
      return (
        await ctx.store.aliases.list({ ...(a && { username: a.username }), ...(domain !== undefined && { domain }) })
      ).map(out);
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
