/**
 * /api/v1/cdrs: call records, newest first (`trunkline cdr list`). Filters
 * since/until (ISO 8601, by start time), trunk, account, direction,
 * disposition (answered = 2xx, failed); cursor pagination (`limit`,
 * `cursor`, the next page's cursor in `Next-Cursor` and `Link`); CSV with
 * `Accept: text/csv` or `?format=csv` (same filters and paging).
 */
import { z } from 'zod';
import { CDR_DEFAULT_LIMIT, CDR_MAX_LIMIT } from '../../store/index.js';
import type { Cdr, CdrFilter } from '../../trunking/model.js';
import { defineResource, views } from '../resource.js';
import { iso } from './common.js';

const schema = z.object({
  callSid: z.string(),
  account: z.string().nullable(),
  trunk: z.string().nullable(),
  carrier: z.string().nullable(),
  direction: z.enum(['inbound', 'outbound']),
  from: z.string(),
  to: z.string(),
  startAt: z.string().describe('ISO 8601'),
  answerAt: z.string().nullable().describe('ISO 8601; null when never answered'),
  endAt: z.string().describe('ISO 8601'),
  duration: z.number().int().describe('seconds answered'),
  status: z.number().int().describe('final SIP status (200 for an answered call)'),
  reason: z.string(),
  hangupBy: z.enum(['caller', 'callee', 'system']),
  extra: z.string().nullable().describe('JSON text: media figures'),
});
const v = views(schema, { key: 'callSid' });

const ISO = /^\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)?$/;
const time = z
  .string()
  .trim()
  .refine((s) => ISO.test(s) && !Number.isNaN(Date.parse(s)), { message: 'expected an ISO 8601 time like 2026-01-31T12:00:00Z' })
  .transform((s) => Date.parse(s));

const listQuery = z.strictObject({
  since: time.optional().describe('only calls that started at or after this time (ISO 8601)'),
  until: time.optional().describe('only calls that started before this time (ISO 8601)'),
  trunk: z.string().max(64).optional(),
  account: z.string().max(64).optional(),
  direction: z.enum(['inbound', 'outbound']).optional(),
  disposition: z.enum(['answered', 'failed']).optional().describe('answered (2xx) or failed'),
  limit: z.coerce.number().int().min(1).max(CDR_MAX_LIMIT).default(CDR_DEFAULT_LIMIT).describe(`rows per page, 1-${CDR_MAX_LIMIT}`),
  cursor: z.string().max(512).optional().describe('the Next-Cursor of the previous page'),
  format: z.enum(['json', 'csv']).optional().describe('csv: the same rows as CSV (or Accept: text/csv)'),
});

export const cdrOut = (c: Cdr) => ({
  ...c,
  startAt: iso(c.startAt),
  answerAt: c.answerAt === null ? null : iso(c.answerAt),
  endAt: iso(c.endAt),
});

export default defineResource({
  name: 'cdrs',
  key: 'callSid',
  description: 'call records, newest first (filters, cursor pagination, CSV)',
  object: v.object,
  list: {
    query: listQuery,
    csv: true,
    run: async (ctx, q) => {
      const f: CdrFilter = { limit: q.limit };
      if (q.since !== undefined) f.since = q.since;
      if (q.until !== undefined) f.until = q.until;
      if (q.trunk !== undefined) f.trunk = q.trunk;
      if (q.account !== undefined) f.account = q.account;
      if (q.direction !== undefined) f.direction = q.direction;
      if (q.disposition !== undefined) f.disposition = q.disposition;
      if (q.cursor !== undefined) f.cursor = q.cursor;
      const p = await ctx.store.cdrs.list(f);
      return { items: p.cdrs.map(cdrOut), next: p.next };
    },
  },
  get: async (ctx, key) => cdrOut(await ctx.store.cdrs.show(key)),
});
