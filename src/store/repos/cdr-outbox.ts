/**
 * cdr_outbox: the CDRs still to be POSTed to the CDR webhook, in the order
 * they fell due (next_at, id). A sender `claim`s a few due rows under a
 * token of its own until a lease end (other senders, other nodes of a
 * cluster, skip them meanwhile), then for each one says `done` (deleted) or
 * `failed` (due again later, or parked). A sender that dies holding rows
 * loses them at the lease end, to whoever comes next: delivery is at least
 * once. Not provisioning data: nothing here moves `store.changes()`.
 */
import { sql } from 'kysely';
import { count, type StoreContext } from '../context.js';
import type { Cdr } from '../../trunking/model.js';
import { toCdr } from './cdrs.js';

export interface OutboxItem {
  id: number;
  callSid: string;
  attempts: number;
  refusals: number;
  /** Null when the CDR is gone (purged before it was sent). */
  cdr: Cdr | null;
}

export interface OutboxFailure {
  /** Due again at (ms), or null: parked. */
  nextAt: number | null;
  /** The receiver refused this CDR (counts toward parking). */
  refused: boolean;
  error: string;
}

export class CdrOutboxRepo {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** Takes up to `n` rows due now for `token` until `until`; each with its CDR, oldest due first. */
  async claim(token: string, n: number, until: number): Promise<OutboxItem[]> {
    const now = this.#ctx.now();
    return this.#ctx.tx(async (db) => {
      let due = db
        .selectFrom('cdr_outbox')
        .select('id')
        .where('next_at', '<=', now)
        .orderBy('next_at')
        .orderBy('id')
        .limit(n);
      // PostgreSQL: another node's claim under way is skipped, not waited for.
      if (this.#ctx.dialect === 'postgres') due = due.forUpdate().skipLocked();
      // `next_at <= now` again: a row another sender took meanwhile no longer matches.
      await db
        .updateTable('cdr_outbox')
        .set({ claim: token, next_at: until })
        .where('id', 'in', due)
        .where('next_at', '<=', now)
        .execute();
      const rows = await db
        .selectFrom('cdr_outbox as o')
        .leftJoin('cdrs as c', 'c.call_sid', 'o.call_sid')
        .selectAll('c')
        .select(['o.id as outbox_id', 'o.call_sid as outbox_sid', 'o.attempts', 'o.refusals'])
        .where('o.claim', '=', token)
        .orderBy('o.id')
        .execute();
      return rows.map((r) => ({
        id: r.outbox_id,
        callSid: r.outbox_sid,
        attempts: r.attempts,
        refusals: r.refusals,
        cdr: r.call_sid === null ? null : toCdr(r as Parameters<typeof toCdr>[0]),
      }));
    });
  }

  /** The receiver took it (or the CDR is gone): the row goes. */
  async done(id: number): Promise<void> {
    await this.#ctx.tx((db) => db.deleteFrom('cdr_outbox').where('id', '=', id).execute());
  }

  /** A failed POST of a row `token` holds: counted, and due again at `f.nextAt` (null: parked). */
  async failed(id: number, token: string, f: OutboxFailure): Promise<void> {
    await this.#ctx.tx((db) =>
      db
        .updateTable('cdr_outbox')
        .set((eb) => ({
          attempts: eb('attempts', '+', 1),
          refusals: f.refused ? eb('refusals', '+', 1) : eb.ref('refusals'),
          next_at: f.nextAt,
          claim: null,
          last_error: f.error.slice(0, 500),
        }))
        .where('id', '=', id)
        .where('claim', '=', token)
        .execute(),
    );
  }

  /** The rows `token` (or, without one, any sender) still holds are due at once; how many. */
  async release(token?: string): Promise<number> {
    const now = this.#ctx.now();
    const r = await this.#ctx.tx((db) =>
      db
        .updateTable('cdr_outbox')
        .set({ claim: null, next_at: now })
        .where((eb) => (token === undefined ? eb('claim', 'is not', null) : eb('claim', '=', token)))
        .executeTakeFirst(),
    );
    return count(r.numUpdatedRows);
  }

  /** The parked rows are due at once, their refusals forgotten; how many. */
  async unpark(): Promise<number> {
    const now = this.#ctx.now();
    const r = await this.#ctx.tx((db) =>
      db.updateTable('cdr_outbox').set({ next_at: now, refusals: 0 }).where('next_at', 'is', null).executeTakeFirst(),
    );
    return count(r.numUpdatedRows);
  }

  /** Rows waiting (parked included), and of them parked. */
  async counts(): Promise<{ depth: number; parked: number }> {
    const r = await this.#ctx.db
      .selectFrom('cdr_outbox')
      .select([
        (eb) => eb.fn.countAll<number>().as('depth'),
        sql<number>`coalesce(sum(case when next_at is null then 1 else 0 end), 0)`.as('parked'),
      ])
      .executeTakeFirstOrThrow();
    return { depth: Number(r.depth), parked: Number(r.parked) };
  }
}
