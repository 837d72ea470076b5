/**
 * /api/v1/cdrs: call records, newest first (`trunkline cdr list`). Filters
 * since/until (ISO 8601, by start time), trunk, account, direction,
 * disposition (answered = 2xx, failed); cursor pagination (`limit`,
 * `cursor`, the next page's cursor in `Next-Cursor` and `Link`); CSV with
 * `Accept: text/csv` or `?format=csv` (same filters and paging).
 */
import { z } from 'zod';
import { CDR_DEFAULT_LIMIT, CDR_MAX_LIMIT } from '../../store/index.js';
import type { CdrFilter } from '../../trunking/model.js';
import { cdrViews as v } from '../shapes.js';
import { defineResource } from '../resource.js';
import { cdrJson } from '../../store/json.js';
import { isoTimeOf } from '../../cdr/export.js';

/** An ISO 8601 time (with a date) as ms since the epoch. */
export const isoTime = z
  .string()
  .trim()
  .refine((s) => isoTimeOf(s) !== null, { message: 'expected an ISO 8601 time like 2026-01-31T12:00:00Z' })
  .transform((s) => isoTimeOf(s)!);

const listQuery = z.strictObject({
  since: isoTime.optional().describe('only calls that started at or after this time (ISO 8601)'),
  until: isoTime.optional().describe('only calls that started before this time (ISO 8601)'),
  trunk: z.string().max(64).optional(),
  account: z.string().max(64).optional(),
  direction: z.enum(['inbound', 'outbound']).optional(),
  disposition: z.enum(['answered', 'failed']).optional().describe('answered (2xx) or failed'),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(CDR_MAX_LIMIT)
    .default(CDR_DEFAULT_LIMIT)
    .describe(`rows per page, 1-${CDR_MAX_LIMIT}`),
  cursor: z.string().max(512).optional().describe('the Next-Cursor of the previous page'),
  format: z.enum(['json', 'csv']).optional().describe('csv: the same rows as CSV (or Accept: text/csv)'),
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
      return { items: p.cdrs.map(cdrJson), next: p.next };
    },
  },
  get: async (ctx, key) => cdrJson(await ctx.store.cdrs.show(key)),
});
