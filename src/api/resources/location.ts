/**
 * /api/v1/location: live registrations (`trunkline location`). A list (all,
 * or one AOR's with `?aor=`) and DELETE of every binding of an AOR; they are
 * made by REGISTER, never by the API.
 */
import { z } from 'zod';
import { NotFoundError } from '../../store/errors.js';
import { normalizeAor } from '../../store/validate.js';
import { defineResource, views } from '../resource.js';
import { bindingJson } from '../../store/json.js';

const schema = z.object({
  aor: z.string().describe('USER@DOMAIN'),
  contact: z.string(),
  received: z.string().nullable().describe('where the REGISTER came from when that differs from the contact (NAT)'),
  expires: z.number().int().describe('seconds left'),
  expiresAt: z.string().describe('ISO 8601'),
  q: z.number(),
  path: z.array(z.string()),
  instance: z.string().nullable(),
  regId: z.number().int().nullable(),
  callId: z.string(),
  cseq: z.number().int(),
  proto: z.string(),
  local: z.string().describe('IP:PORT it arrived on'),
  remote: z.string().describe('IP:PORT it came from'),
  userAgent: z.string().nullable(),
  updatedAt: z.string().describe('ISO 8601'),
});
const v = views(schema, { key: 'aor' });
const listQuery = z.strictObject({ aor: z.string().optional().describe('only the bindings of USER@DOMAIN') });

const out = bindingJson;

export default defineResource({
  name: 'location',
  key: 'aor',
  description: 'live registrations (aor, contact, received, expires)',
  object: v.object,
  list: {
    query: listQuery,
    run: async (ctx, q) => {
      const now = ctx.now();
      const rows = q.aor !== undefined ? await ctx.store.location.listForAor(normalizeAor(q.aor), now) : await ctx.store.location.listLive(now);
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
