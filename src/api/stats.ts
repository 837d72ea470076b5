/**
 * GET /api/v1/stats/calls?minutes=60: calls per minute over the last N
 * minutes (1-1440), for the console's charts. One bucket per minute, oldest
 * first, each `{start, started, answered, failed}`:
 *
 *   - from the CDR store (one GROUP BY over the start_at index), so the
 *     figures survive a restart; a CDR is written when a call ends, so
 *   - the live calls (ApiContext.calls) are added as started (and answered
 *     once answered): a call shows in the minute it started while it lasts.
 *
 * answered = a 2xx final status, failed = any other (the CDR search's
 * `disposition`). A call is counted in the minute it started.
 *
 * GET /api/v1/stats/unknown-sources: the last sources (at most 32) refused
 * 403 as no trunk, carrier or user (src/b2bua/unknown-sources.ts), newest
 * first, for the console's refused-calls card.
 */
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { z } from 'zod';
import { SchemaError } from './errors.js';
import type { ApiContext } from './resource.js';
import type { CallBucket, UnknownSourceJson } from './shapes.js';

const MINUTE = 60_000;
export const STATS_MAX_MINUTES = 1440;

const callsQuery = z.strictObject({
  minutes: z.coerce
    .number()
    .int()
    .min(1)
    .max(STATS_MAX_MINUTES)
    .default(60)
    .describe(`minutes back from now, 1-${STATS_MAX_MINUTES} (default 60)`),
});

/** The buckets of the `minutes` minutes up to and including the current one. */
export async function callStats(ctx: ApiContext, minutes: number): Promise<CallBucket[]> {
  const nowMinute = Math.floor(ctx.now() / MINUTE);
  const first = nowMinute - minutes + 1;
  const counts = new Map<number, { started: number; answered: number; failed: number }>();
  for (let m = first; m <= nowMinute; m++) counts.set(m, { started: 0, answered: 0, failed: 0 });
  // Integer division on both SQLite and PostgreSQL (start_at is an int64 of ms; the divisor a literal:
  // a bound JS number is a REAL to SQLite, and PostgreSQL wants the same expression in GROUP BY); PostgreSQL's
  // count and sum come back as strings, hence Number().
  const rows = await ctx.store.ctx.db
    .selectFrom('cdrs')
    .select([
      sql<number | string>`start_at / ${sql.lit(MINUTE)}`.as('minute'),
      sql<number | string>`count(*)`.as('total'),
      sql<number | string>`sum(case when status >= 200 and status < 300 then 1 else 0 end)`.as('ok'),
    ])
    .where('start_at', '>=', first * MINUTE)
    .groupBy(sql`start_at / ${sql.lit(MINUTE)}`)
    .execute();
  for (const r of rows) {
    const b = counts.get(Number(r.minute));
    if (b === undefined) continue; // a start_at in the future (clock moved back)
    const total = Number(r.total);
    const ok = Number(r.ok ?? 0);
    b.started += total;
    b.answered += ok;
    b.failed += total - ok;
  }
  for (const c of (await ctx.calls?.list()) ?? []) {
    const b = counts.get(Math.floor(c.startAt / MINUTE));
    if (b === undefined) continue;
    b.started += 1;
    if (c.answerAt !== null) b.answered += 1;
  }
  return [...counts].map(([m, b]) => ({ start: new Date(m * MINUTE).toISOString(), ...b }));
}

export function registerStats(v1: FastifyInstance, ctx: ApiContext): void {
  v1.get('/stats/calls', async (req) => {
    const r = callsQuery.safeParse(req.query ?? {}, { reportInput: true });
    if (!r.success) throw new SchemaError(r.error.issues, 'query');
    return callStats(ctx, r.data.minutes);
  });
  // The sources the B2BUA refused as unknown; [] in a server without one.
  v1.get('/stats/unknown-sources', async () =>
    (ctx.unknownSources?.() ?? []).map((s): UnknownSourceJson => ({
      address: s.address,
      proto: s.proto,
      method: s.method,
      count: s.count,
      firstAt: new Date(s.firstAt).toISOString(),
      lastAt: new Date(s.lastAt).toISOString(),
    })),
  );
}

/** Its OpenAPI entry. */
export const STATS_PATHS: Record<string, unknown> = {
  '/api/v1/stats/calls': {
    get: {
      summary:
        'calls per minute over the last N minutes, oldest first: {start, started, answered, failed} (CDRs plus live calls, by start minute)',
      parameters: [
        {
          name: 'minutes',
          in: 'query',
          schema: { type: 'integer', minimum: 1, maximum: STATS_MAX_MINUTES, default: 60 },
        },
      ],
      responses: { 200: { description: 'the buckets' }, 400: { description: 'a bad minutes, named' } },
    },
  },
  '/api/v1/stats/unknown-sources': {
    get: {
      summary:
        'the last sources (at most 32) refused 403 as no trunk, carrier or user, newest first: {address, proto, method, count, firstAt, lastAt}',
      responses: { 200: { description: 'the sources' } },
    },
  },
};
