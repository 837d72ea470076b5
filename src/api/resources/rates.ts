/**
 * /api/v1/rates: carriers' rate decks (`trunkline rate`).
 *
 *   GET    /api/v1/rates?carrier=C[&prefix=P][&limit=N][&cursor=X]   the rates, by carrier, prefix, date
 *   POST   /api/v1/rates?carrier=C[&replace=true]   a CSV deck as the body (Content-Type: text/csv);
 *                                                   201 {carrier, imported, total, replaced, ignored}
 *   DELETE /api/v1/rates/C[?prefix=P]               the carrier's deck, or one prefix's rates
 *
 * The CSV is read as it arrives (src/trunking/rate-csv.ts); a bad line is a
 * 400 naming its line and column, and nothing is imported. Money comes as
 * exact decimal strings. A `+` in a query string is a space once decoded:
 * send it as %2B, or leave it out (44 is +44).
 */
import { z } from 'zod';
import { RATE_MAX_LIMIT } from '../../store/index.js';
import { readRateCsv, type RateFileRead } from '../../trunking/rate-csv.js';
import { checkName, checkRatePrefix } from '../../trunking/validate.js';
import { rateViews as v } from '../shapes.js';
import { defineResource } from '../resource.js';
import { rateJson as out } from '../../store/json.js';
import { decodeCursor, page, pageQuery } from '../pagination.js';
import { ApiError } from '../errors.js';

/** Rows per batch of a deck uploaded to a running server (the CLI, another process, takes 5,000). */
const IN_SERVER_BATCH = 1000;

/** The largest deck body taken (a million rows are about 30 MB). */
const MAX_UPLOAD = 512 * 1024 * 1024;

const listQuery = pageQuery.extend({
  carrier: z.string().max(64).optional().describe("only this carrier's rates"),
  prefix: z.string().max(20).optional().describe('only prefixes starting with this (44 lists +44, +441, ...)'),
});

const uploadQuery = z.strictObject({
  carrier: z.string().max(64).describe('the carrier the prices are of'),
  replace: z
    .enum(['true', 'false'])
    .optional()
    .describe("true: replace the carrier's whole deck; else the rows are added to it"),
});

const removeQuery = z.strictObject({
  prefix: z.string().max(20).optional().describe("only this prefix's rates (all effective dates)"),
});

const afterKey = z.strictObject({ carrier: z.string(), prefix: z.string(), effectiveAt: z.number().int() });

/** The body's chunks, refused (413) past MAX_UPLOAD bytes. */
async function* bounded(body: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.length;
    if (bytes > MAX_UPLOAD) throw new ApiError(413, `a rate deck of at most ${MAX_UPLOAD >> 20} MiB`);
    yield chunk;
  }
}

export default defineResource({
  name: 'rates',
  key: 'carrier',
  description: "carriers' rate decks: price per minute by dialled prefix, increments, fee, effective date",
  object: v.object,
  list: {
    query: listQuery,
    run: async (ctx, q) => {
      const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, afterKey);
      const rows = await ctx.store.rates.list({
        ...(q.carrier !== undefined && { carrier: checkName(q.carrier, 'carrier') }),
        ...(q.prefix !== undefined && { prefix: checkRatePrefix(q.prefix, 'prefix') }),
        ...(after !== undefined && { after }),
        limit: Math.min(q.limit, RATE_MAX_LIMIT) + 1,
      });
      const p = page(rows, q.limit, (r) => ({ carrier: r.carrier, prefix: r.prefix, effectiveAt: r.effectiveAt }));
      return { items: p.items.map(out), next: p.next };
    },
  },
  upload: {
    contentType: 'text/csv',
    query: uploadQuery,
    summary: 'import a CSV rate deck for a carrier (header: prefix,rate[,increment,fee,effective])',
    run: async (ctx, body, query) => {
      const q = query as z.output<typeof uploadQuery>;
      const read: RateFileRead = { header: null, rows: 0 };
      // Inside the server: small batches, each a short synchronous transaction on SQLite, so calls wait little.
      const rows = readRateCsv(bounded(body), read, IN_SERVER_BATCH);
      const r = await ctx.store.rates.import(checkName(q.carrier, 'carrier'), rows, {
        replace: q.replace === 'true',
        source: 'api',
      });
      return { ...r, ignored: read.header?.ignored ?? [] };
    },
  },
  remove: {
    query: removeQuery,
    run: async (ctx, key, q) => {
      await ctx.store.rates.rm(key, q.prefix === undefined ? undefined : checkRatePrefix(q.prefix, 'prefix'));
    },
  },
});
