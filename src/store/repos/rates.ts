/**
 * Rate decks: each carrier's prices per dialled-number prefix (migration
 * 0007_rates). A carrier has at most one `active` deck; lookups read only
 * it.
 *
 * Import (`import`): the rows go into a new `loading` deck in batches, each
 * batch its own short transaction (on SQLite a synchronous BEGIN IMMEDIATE
 * that never waits on the event loop: it is retried while another writer
 * holds the lock), so a running server reading or writing the same file is
 * never held up for longer than one batch. Without `replace`, the active
 * deck's rows the file does not give (same prefix and effective date) are
 * copied in after the file's, in batches too. Then one small provisioning
 * write makes the new deck active and the old one retired, whose rows are
 * deleted in batches. A bad row anywhere (the reader's RateFileError, or a
 * prefix and date given twice) drops the loading deck: nothing is imported.
 *
 * Lookups (`match`): for a number, each carrier's row with the longest
 * prefix of it that has a row in force at the time asked, and among that
 * prefix's rows the newest in force (`effective_at` <= time). On SQLite a
 * deck looked up often (a server's, not a one-shot CLI's) is
 * loaded into memory in the background (rate-index.ts) and answered from
 * there while it stays the carrier's active deck, unchanged; otherwise one
 * indexed query, run synchronously on SQLite.
 */
import { sql, type Kysely } from 'kysely';
import type BetterSqlite3 from 'better-sqlite3';
import { SQLITE_BUSY_TIMEOUT_MS, count, type StoreContext } from '../context.js';
import { ConflictError, NotFoundError, StoreError } from '../errors.js';
import type { Database } from '../schema.js';
import type { RateMatch } from '../../trunking/model.js';
import { RateFileError, type RateFileRow } from '../../trunking/rate-csv.js';
import { checkName, checkRatePrefix } from '../../trunking/validate.js';
import { checkInt, checkOptionalText } from '../validate.js';
import { RateIndexes } from './rate-index.js';
import {
  RATE_DEFAULT_LIMIT,
  RATE_MAX_LIMIT,
  prefixesOf,
  toInfo,
  type RateDeck,
  type RateImportResult,
  type RateInfo,
  type RateListFilter,
  type RateShow,
} from './rate-types.js';

/** Rows per transaction of an import, a copy or a removal. */
const BATCH = 5000;
/** A `loading` deck older than this is an import that died: the next import of its carrier removes it. */
const STALE_LOADING_MS = 3_600_000;

const INSERT_SQL =
  'INSERT INTO rates (deck, prefix, effective_at, rate, fee, first_incr, next_incr) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING';

/** The prefix that ends a batch of `n` rows after `after` (null: the rest is shorter than that). */
const BOUNDARY_SQL = 'SELECT prefix FROM rates WHERE deck = ? AND prefix > ? ORDER BY prefix LIMIT 1 OFFSET ?';

/** A PostgreSQL batch that did not insert every row (some key was there already). */
class BatchConflict extends Error {}

function duplicate(r: RateFileRow): RateFileError {
  const when = r.effectiveAt === 0 ? 'no effective date' : `effective ${new Date(r.effectiveAt).toISOString()}`;
  return new RateFileError(r.line, null, null, `prefix ${r.prefix} with ${when} is in the file twice`);
}

export class RateRepo {
  readonly #ctx: StoreContext;
  /** Decks in memory, for the lookups of a server (SQLite). */
  readonly #memory = new RateIndexes();

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  get #db(): Kysely<Database> {
    return this.#ctx.db;
  }

  /**
   * Imports a deck for `carrier` from batches of rows (src/trunking/rate-csv.ts
   * readRateCsv); `replace` swaps the whole deck, else the rows are added to
   * it (a row of the same prefix and effective date replaced). All or
   * nothing: any error (the reader's too) leaves the active deck as it was.
   */
  async import(
    carrier: string,
    batches: AsyncIterable<RateFileRow[]>,
    opts: { replace?: boolean; source?: string | null } = {},
  ): Promise<RateImportResult> {
    const c = checkName(carrier, 'carrier');
    const source = checkOptionalText(opts.source ?? null, 'source', 512);
    const known = await this.#db.selectFrom('carriers').select('name').where('name', '=', c).executeTakeFirst();
    if (known === undefined) throw new NotFoundError(`unknown carrier ${c}`);
    await this.#dropLeftovers(c);
    const deck = await this.#ctx.tx(async (db) => {
      const row = await db
        .insertInto('rate_decks')
        .values({ carrier: c, state: 'loading', row_count: 0, source, created_at: this.#ctx.now() })
        .returning('id')
        .executeTakeFirstOrThrow();
      return Number(row.id);
    });
    try {
      let imported = 0;
      for await (const rows of batches) {
        await this.#insert(deck, rows);
        imported += rows.length;
      }
      // PostgreSQL: statistics of the new rows, else the planner guesses and batches sort whole decks.
      if (this.#ctx.dialect === 'postgres') await sql`analyze rates`.execute(this.#db);
      const base = opts.replace === true ? undefined : await this.#activeDeck(c);
      const copied = base === undefined ? 0 : await this.#copy(base, deck);
      const total = imported + copied;
      const retired = await this.#ctx.write(async (db) => {
        const prev = await this.#activeDeck(c, db);
        // Another import of this carrier finished meanwhile: its rows are not in this merge.
        if (opts.replace !== true && prev !== base)
          throw new ConflictError(`another import of carrier ${c}'s rates finished meanwhile; import again`);
        if (prev !== undefined)
          await db.updateTable('rate_decks').set({ state: 'retired' }).where('id', '=', prev).execute();
        const r = await db
          .updateTable('rate_decks')
          .set({ state: 'active', row_count: total, activated_at: this.#ctx.now() })
          .where('id', '=', deck)
          .where('state', '=', 'loading')
          .executeTakeFirst();
        if (count(r.numUpdatedRows) === 0) throw new ConflictError(`carrier ${c} was removed during the import`);
        return prev;
      });
      if (retired !== undefined) await this.#dropDeck(retired);
      return { carrier: c, imported, total, replaced: opts.replace === true };
    } catch (err) {
      await this.#dropDeck(deck).catch(() => undefined);
      throw err;
    }
  }

  /** The active deck of every carrier that has one, by carrier. */
  async decks(): Promise<RateDeck[]> {
    const rows = await this.#db
      .selectFrom('rate_decks')
      .select(['carrier', 'row_count', 'source', 'activated_at'])
      .where('state', '=', 'active')
      .orderBy(this.#ctx.orderText('carrier'))
      .execute();
    return rows.map((r) => ({
      carrier: r.carrier,
      rows: Number(r.row_count),
      source: r.source,
      activatedAt: Number(r.activated_at ?? 0),
    }));
  }

  /** Rows of the active decks by carrier, prefix, effective date; at most `limit` (RATE_DEFAULT_LIMIT). */
  async list(filter: RateListFilter = {}): Promise<RateInfo[]> {
    const limit =
      filter.limit === undefined ? RATE_DEFAULT_LIMIT : checkInt(filter.limit, 'limit', 1, RATE_MAX_LIMIT + 1);
    let q = this.#db
      .selectFrom('rate_decks as d')
      .innerJoin('rates as r', 'r.deck', 'd.id')
      .select(['d.carrier', 'r.prefix', 'r.effective_at', 'r.rate', 'r.fee', 'r.first_incr', 'r.next_incr'])
      .where('d.state', '=', 'active');
    if (filter.carrier !== undefined) {
      const c = checkName(filter.carrier, 'carrier');
      if ((await this.#activeDeck(c)) === undefined) await this.#known(c);
      q = q.where('d.carrier', '=', c);
    }
    if (filter.prefix !== undefined) {
      const p = checkRatePrefix(filter.prefix, 'prefix');
      // Prefixes are `+` and digits: those starting with p sort from p up to p followed by ':' (after '9').
      q = q.where('r.prefix', '>=', p).where('r.prefix', '<', `${p}:`);
    }
    const a = filter.after;
    if (a !== undefined) {
      const carrier = this.#ctx.orderText('d.carrier');
      q = q.where((eb) =>
        eb.or([
          eb(carrier, '>', a.carrier),
          eb.and([
            eb('d.carrier', '=', a.carrier),
            eb.or([
              eb('r.prefix', '>', a.prefix),
              eb.and([eb('r.prefix', '=', a.prefix), eb('r.effective_at', '>', a.effectiveAt)]),
            ]),
          ]),
        ]),
      );
    }
    const rows = await q
      .orderBy(this.#ctx.orderText('d.carrier'))
      .orderBy('r.prefix')
      .orderBy('r.effective_at')
      .limit(limit)
      .execute();
    return rows.map((r) => toInfo(r.carrier, r));
  }

  /**
   * The rows of `prefix` (or of the longest prefix of it that has rows: a
   * number may be given), newest first, and the one in force at `at`.
   * NotFoundError when the carrier has no row for it.
   */
  async show(carrier: string, prefix: string, at: number = this.#ctx.now()): Promise<RateShow> {
    const c = checkName(carrier, 'carrier');
    const p = checkRatePrefix(prefix, 'prefix');
    const deck = await this.#activeDeck(c);
    if (deck === undefined) {
      await this.#known(c);
      throw new NotFoundError(`carrier ${c} has no rates`);
    }
    const rows = await this.#db
      .selectFrom('rates')
      .select(['prefix', 'effective_at', 'rate', 'fee', 'first_incr', 'next_incr'])
      .where('deck', '=', deck)
      .where('prefix', 'in', prefixesOf(p))
      .orderBy('effective_at', 'desc')
      .execute();
    const longest = rows.reduce((m, r) => (r.prefix.length > m.length ? r.prefix : m), '');
    if (longest === '') throw new NotFoundError(`carrier ${c} has no rate for ${p}`);
    const mine = rows.filter((r) => r.prefix === longest).map((r) => toInfo(c, r));
    return {
      carrier: c,
      asked: p,
      prefix: longest,
      rows: mine,
      inForce: mine.find((r) => r.effectiveAt <= at) ?? null,
    };
  }

  /**
   * Removes a carrier's whole deck, or with `prefix` that prefix's rows (all
   * their effective dates); how many rows went. NotFoundError when there
   * were none.
   */
  async rm(carrier: string, prefix?: string): Promise<number> {
    const c = checkName(carrier, 'carrier');
    const p = prefix === undefined ? undefined : checkRatePrefix(prefix, 'prefix');
    const deck = await this.#activeDeck(c);
    if (deck === undefined) {
      await this.#known(c);
      throw new NotFoundError(`carrier ${c} has no rates`);
    }
    if (p !== undefined) {
      return this.#ctx.write(async (db) => {
        const r = await db.deleteFrom('rates').where('deck', '=', deck).where('prefix', '=', p).executeTakeFirst();
        const n = count(r.numDeletedRows);
        if (n === 0) throw new NotFoundError(`carrier ${c} has no rate for prefix ${p}`);
        await db
          .updateTable('rate_decks')
          .set({ row_count: sql<number>`row_count - ${n}` })
          .where('id', '=', deck)
          .execute();
        return n;
      });
    }
    const rows = await this.#ctx.write(async (db) => {
      const r = await db
        .updateTable('rate_decks')
        .set({ state: 'retired' })
        .where('id', '=', deck)
        .where('state', '=', 'active')
        .returning('row_count')
        .executeTakeFirst();
      if (r === undefined) throw new NotFoundError(`carrier ${c} has no rates`);
      return Number(r.row_count);
    });
    await this.#dropDeck(deck);
    return rows;
  }

  /**
   * Each named carrier's rate for `number` (E.164) in force at `at`: the
   * row of the longest prefix of the number that has one in force, the
   * newest in force of that prefix. Carriers without one are absent.
   */
  async match(carriers: readonly string[], number: string, at: number): Promise<Map<string, RateMatch>> {
    if (carriers.length === 0 || !number.startsWith('+')) return new Map<string, RateMatch>();
    const fast = this.#memory.match((text) => this.#ctx.sqliteRows(text), carriers, number, at, this.#ctx.changesNow());
    if (fast === undefined) return this.#matchQuery(carriers, number, at);
    if (fast.rest.length === 0) return fast.found;
    for (const [c, m] of await this.#matchQuery(fast.rest, number, at)) fast.found.set(c, m);
    return fast.found;
  }

  /** The decks held in memory for lookups: how many, their rows and bytes. */
  get inMemory(): { decks: number; rows: number; bytes: number } {
    return this.#memory.held;
  }

  /** Each carrier's rate for the number by one indexed query (match without the decks in memory). */
  async #matchQuery(carriers: readonly string[], number: string, at: number): Promise<Map<string, RateMatch>> {
    const out = new Map<string, RateMatch>();
    const prefixes = prefixesOf(number);
    const text =
      'SELECT d.carrier, r.prefix, r.effective_at, r.rate, r.fee, r.first_incr, r.next_incr' +
      ' FROM rate_decks d JOIN rates r ON r.deck = d.id' +
      ` WHERE d.state = 'active' AND d.carrier IN (${carriers.map(() => '?').join(', ')})` +
      ` AND r.prefix IN (${prefixes.map(() => '?').join(', ')}) AND r.effective_at <= ?`;
    type Row = [string, string, number, number, number, number, number];
    let rows: Row[];
    const stmt = this.#ctx.sqliteRows(text);
    if (stmt !== undefined) rows = stmt.all(...carriers, ...prefixes, at) as Row[];
    else {
      const r = await this.#db
        .selectFrom('rate_decks as d')
        .innerJoin('rates as r', 'r.deck', 'd.id')
        .select(['d.carrier', 'r.prefix', 'r.effective_at', 'r.rate', 'r.fee', 'r.first_incr', 'r.next_incr'])
        .where('d.state', '=', 'active')
        .where('d.carrier', 'in', [...carriers])
        .where('r.prefix', 'in', prefixes)
        .where('r.effective_at', '<=', at)
        .execute();
      rows = r.map((x) => [x.carrier, x.prefix, x.effective_at, x.rate, x.fee, x.first_incr, x.next_incr]);
    }
    for (const [carrier, prefix, effectiveAt, rate, fee, first, next] of rows) {
      const seen = out.get(carrier);
      if (
        seen !== undefined &&
        (seen.prefix.length > prefix.length ||
          (seen.prefix.length === prefix.length && seen.effectiveAt >= effectiveAt))
      )
        continue;
      out.set(carrier, {
        carrier,
        prefix,
        rate: Number(rate),
        fee: Number(fee),
        first,
        next,
        effectiveAt: Number(effectiveAt),
      });
    }
    return out;
  }

  async #known(carrier: string): Promise<void> {
    const row = await this.#db.selectFrom('carriers').select('name').where('name', '=', carrier).executeTakeFirst();
    if (row === undefined) throw new NotFoundError(`unknown carrier ${carrier}`);
  }

  async #activeDeck(carrier: string, db: Kysely<Database> = this.#db): Promise<number | undefined> {
    const row = await db
      .selectFrom('rate_decks')
      .select('id')
      .where('carrier', '=', carrier)
      .where('state', '=', 'active')
      .executeTakeFirst();
    return row === undefined ? undefined : Number(row.id);
  }

  /** Decks of the carrier that an earlier run left: retired ones, and loading ones of an import that died. */
  async #dropLeftovers(carrier: string): Promise<void> {
    const old = await this.#db
      .selectFrom('rate_decks')
      .select('id')
      .where('carrier', '=', carrier)
      .where((eb) =>
        eb.or([
          eb('state', '=', 'retired'),
          eb.and([eb('state', '=', 'loading'), eb('created_at', '<', this.#ctx.now() - STALE_LOADING_MS)]),
        ]),
      )
      .execute();
    for (const d of old) await this.#dropDeck(Number(d.id));
  }

  /** Inserts a batch into a loading deck in one transaction; RateFileError at a prefix and date the deck has already. */
  async #insert(deck: number, rows: RateFileRow[]): Promise<void> {
    if (this.#ctx.dialect === 'sqlite') {
      await this.#sqliteBatch((run) => {
        const st = run(INSERT_SQL);
        for (const r of rows) {
          if (st.run(deck, r.prefix, r.effectiveAt, r.rate, r.fee, r.first, r.next).changes === 0) throw duplicate(r);
        }
      });
      return;
    }
    const seen = new Set<string>();
    for (const r of rows) {
      const key = `${r.prefix} ${r.effectiveAt}`;
      if (seen.has(key)) throw duplicate(r);
      seen.add(key);
    }
    const col = <T>(f: (r: RateFileRow) => T): T[] => rows.map(f);
    const all = await this.#ctx
      .tx(async (db) => {
        const r = await sql`insert into rates (deck, prefix, effective_at, rate, fee, first_incr, next_incr)
        select ${deck}::bigint, u.* from unnest(${col((r) => r.prefix)}::text[], ${col((r) => r.effectiveAt)}::bigint[],
          ${col((r) => r.rate)}::bigint[], ${col((r) => r.fee)}::bigint[], ${col((r) => r.first)}::int[],
          ${col((r) => r.next)}::int[]) as u
        on conflict do nothing`.execute(db);
        // Not all inserted: undo the batch, then find the row an earlier batch had.
        if (count(r.numAffectedRows) !== rows.length) throw new BatchConflict();
        return true;
      })
      .catch((err: unknown) => {
        if (err instanceof BatchConflict) return false;
        throw err;
      });
    if (all) return;
    const have = await sql<{ prefix: string; effective_at: number }>`select prefix, effective_at from rates
      where deck = ${deck} and prefix = any(${[...new Set(col((r) => r.prefix))]}::text[])`.execute(this.#db);
    const keys = new Set(have.rows.map((h) => `${h.prefix} ${Number(h.effective_at)}`));
    const dup = rows.find((r) => keys.has(`${r.prefix} ${r.effectiveAt}`));
    if (dup !== undefined) throw duplicate(dup);
    throw new StoreError('store: rates import: a batch was not inserted whole');
  }

  /** Copies the rows of deck `from` that deck `to` lacks, in batches; how many. */
  async #copy(from: number, to: number): Promise<number> {
    let copied = 0;
    let after = '';
    for (;;) {
      const hi = await this.#boundary(from, after);
      if (this.#ctx.dialect === 'sqlite') {
        await this.#sqliteBatch((run) => {
          const text =
            'INSERT INTO rates (deck, prefix, effective_at, rate, fee, first_incr, next_incr)' +
            ' SELECT ?, prefix, effective_at, rate, fee, first_incr, next_incr FROM rates' +
            ` WHERE deck = ? AND prefix > ?${hi === null ? '' : ' AND prefix <= ?'} ON CONFLICT DO NOTHING`;
          copied += run(text).run(...(hi === null ? [to, from, after] : [to, from, after, hi])).changes;
        });
      } else {
        const r = await sql`insert into rates (deck, prefix, effective_at, rate, fee, first_incr, next_incr)
          select ${to}::bigint, prefix, effective_at, rate, fee, first_incr, next_incr from rates
          where deck = ${from} and prefix > ${after} ${hi === null ? sql`` : sql`and prefix <= ${hi}`}
          on conflict do nothing`.execute(this.#db);
        copied += count(r.numAffectedRows);
      }
      if (hi === null) return copied;
      after = hi;
    }
  }

  /** Removes a deck: its rows in batches (short transactions), then the deck. */
  async #dropDeck(deck: number): Promise<void> {
    // Each batch starts after the last one's end: rows deleted before are not walked again (PostgreSQL
    // keeps their index entries until a vacuum).
    for (let after = ''; ;) {
      const hi = await this.#boundary(deck, after);
      const from = after;
      await this.#ctx.tx(async (db) => {
        let q = db.deleteFrom('rates').where('deck', '=', deck).where('prefix', '>', from);
        if (hi !== null) q = q.where('prefix', '<=', hi);
        await q.execute();
      });
      if (hi === null) break;
      after = hi;
    }
    await this.#ctx.tx(async (db) => {
      await db.deleteFrom('rate_decks').where('id', '=', deck).execute();
    });
  }

  /** The prefix ending the next batch of a deck's rows after `after`, or null when fewer rows are left. */
  async #boundary(deck: number, after: string): Promise<string | null> {
    const stmt = this.#ctx.sqlite(BOUNDARY_SQL);
    if (stmt !== undefined) {
      const row = stmt.get(deck, after, BATCH - 1) as { prefix: string } | undefined;
      return row?.prefix ?? null;
    }
    const row = await this.#db
      .selectFrom('rates')
      .select('prefix')
      .where('deck', '=', deck)
      .where('prefix', '>', after)
      .orderBy('prefix')
      .limit(1)
      .offset(BATCH - 1)
      .executeTakeFirst();
    return row?.prefix ?? null;
  }

  /**
   * SQLite: fn in one synchronous transaction (StoreContext.syncTx). While
   * another connection holds the write lock it is tried again after a short
   * wait (the event loop runs meanwhile), up to SQLITE_BUSY_TIMEOUT_MS.
   */
  async #sqliteBatch(fn: (run: (sqlText: string) => BetterSqlite3.Statement) => void): Promise<void> {
    const deadline = Date.now() + SQLITE_BUSY_TIMEOUT_MS;
    for (let wait = 1; ; wait = Math.min(wait * 2, 25)) {
      if (this.#ctx.syncTx((run) => fn(run)) !== undefined) return;
      if (Date.now() >= deadline)
        throw new StoreError(
          `store: the database stayed locked by another writer for ${SQLITE_BUSY_TIMEOUT_MS / 1000} s`,
        );
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}
