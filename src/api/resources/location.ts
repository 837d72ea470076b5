/**
 * /api/v1/location: live registrations (`trunkline location`). A list (all,
 * or one AOR's with `?aor=`) and DELETE of every binding of an AOR; they are
 * made by REGISTER, never by the API.
 */
import { z } from 'zod';
import { NotFoundError } from '../../store/errors.js';
import { normalizeAor } from '../../store/validate.js';
import { bindingViews as v } from '../shapes.js';
import { defineResource } from '../resource.js';
import { bindingJson as out } from '../../store/json.js';

const listQuery = z.strictObject({ aor: z.string().optional().describe('only the bindings of USER@DOMAIN') });

export default defineResource({
  name: 'location',
  key: 'aor',
  description: 'live registrations (aor, contact, received, expires)',
  object: v.object,
  list: {
    query: listQuery,
    run: async (ctx, q) => {
      const now = ctx.now();
      const rows =
        q.aor !== undefined
          ? await ctx.store.location.listForAor(normalizeAor(q.aor), now)
          : await ctx.store.location.listLive(now);
      return rows.map((b) => out(b, now));
    },
  },
  remove: {
    run: async (ctx, key) => {
      const aor = normalizeAor(key);
      if ((await ctx.store.location.removeAll(aor)) === 0) throw new NotFoundError(`no registrations for ${aor}`);
    },
  },
});
