/**
 * What every repository shares: the Kysely instance, the dialect, the clock,
 * and the two ways to write.
 *
 * - `tx(fn)`: one transaction. On SQLite it is `BEGIN IMMEDIATE` (the write
 *   lock is taken up front, so two writers never fail each other halfway
 *   with SQLITE_BUSY; see beginImmediate for the wait). On PostgreSQL it is
 *   an ordinary READ COMMITTED transaction.
 * - `write(fn)`: a provisioning write. `tx` plus a bump of the change counter
 *   (store_meta `changes`, and on SQLite an in-process counter) in the same
 *   transaction, so `Store.changes()` moves if and only if it committed.
 *
 * Later repositories (accounts, trunks, dids, ...) take a StoreContext too
 * and write through `write()` so a running server sees their changes.
 */
import { sql, type Kysely } from 'kysely';
import type BetterSqlite3 from 'better-sqlite3';
import type { Database } from './schema.js';
import type { StoreDialect } from './migrations/types.js';
import { StoreError } from './errors.js';
import { StatementCache } from './statement-cache.js';

export type { StoreDialect } from './migrations/types.js';

/** How long SQLite waits for another writer (another process, or another Store of this one). */
export const SQLITE_BUSY_TIMEOUT_MS = 5000;

/**
 * BEGIN IMMEDIATE on a better-sqlite3 connection, waiting for another
 * writer asynchronously: the attempt itself does not block (busy_timeout 0
 * for it), and between attempts the event loop runs, so a server never
 * stalls while the CLI writes, and two Stores of one process on the same
 * file cannot lock each other out. StoreError after SQLITE_BUSY_TIMEOUT_MS.
 */
export async function beginImmediate(raw: BetterSqlite3.Database, timeoutMs = SQLITE_BUSY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let wait = 1; ; wait = Math.min(wait * 2, 25)) {
    raw.pragma('busy_timeout = 0');
    try {
      raw.exec('BEGIN IMMEDIATE');
      return;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code !== 'SQLITE_BUSY') throw err;
      if (Date.now() >= deadline) {
        throw new StoreError(`store: the database stayed locked by another writer for ${timeoutMs / 1000} s`, {
          cause: err,
        });
      }
    } finally {
      raw.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

export class StoreContext {
  readonly db: Kysely<Database>;
  readonly dialect: StoreDialect;
  /** Milliseconds since the epoch; tests may pass their own clock. */
  readonly now: () => number;
  readonly #sqlite: BetterSqlite3.Database | undefined;
  #dataVersion: BetterSqlite3.Statement | undefined;
  #localChanges = 0;

  constructor(db: Kysely<Database>, dialect: StoreDialect, now: () => number, sqlite?: BetterSqlite3.Database) {
    this.db = db;
    this.dialect = dialect;
    this.now = now;
    this.#sqlite = sqlite;
    this.#sync = sqlite === undefined ? undefined : new StatementCache(sqlite);
  }

  /** Statements of the synchronous hot path: their own cache, since they may run in raw (array) mode. */
  readonly #sync: StatementCache | undefined;

  /**
   * SQLite only: a prepared statement for a hot-path query, run
   * synchronously (no query building, no promise per statement), or
   * undefined on PostgreSQL and while a transaction of this connection is
   * open (a Kysely `tx` awaiting between its statements: its uncommitted
   * rows must not be read, nor its transaction joined). Callers fall back
   * to their Kysely query then.
   */
  sqlite(sqlText: string): BetterSqlite3.Statement | undefined {
    const raw = this.#sqlite;
    if (raw === undefined || raw.inTransaction) return undefined;
    return this.#sync!.get(sqlText);
  }

  /**
   * As `sqlite`, a reader statement in raw mode: rows come as arrays of the
   * selected columns (better-sqlite3 builds an object per row property by
   * property, the larger part of a small query's cost).
   */
  sqliteRows(sqlText: string): BetterSqlite3.Statement<unknown[], unknown[]> | undefined {
    const raw = this.#sqlite;
    if (raw === undefined || raw.inTransaction) return undefined;
    return rawMode(this.#sync!.get(sqlText));
  }

  /**
   * SQLite only: fn inside BEGIN IMMEDIATE ... COMMIT, all synchronous, so
   * nothing else of this process runs in between (the same all-or-nothing
   * as `tx`, without its promise per statement). Returns `{ value }`, or
   * undefined without running fn when it cannot start at once: PostgreSQL,
   * a transaction of this connection open, or another connection (the CLI)
   * holding the write lock; the caller then uses `tx`, which waits. An
   * exception of fn rolls back and propagates.
   */
  syncTx<T>(
    fn: (
      run: (sqlText: string) => BetterSqlite3.Statement,
      rows: (sqlText: string) => BetterSqlite3.Statement<unknown[], unknown[]>,
    ) => T,
  ): { value: T } | undefined {
    const raw = this.#sqlite;
    if (raw === undefined || raw.inTransaction) return undefined;
    const st = this.#sync!;
    // busy_timeout 0 for the attempt only: never block the event loop on another writer.
    st.get('PRAGMA busy_timeout = 0').pluck(true).get(); // pluck: no row object built
    try {
      st.get('BEGIN IMMEDIATE').run();
    } catch (err) {
      if ((err as { code?: unknown }).code === 'SQLITE_BUSY') return undefined;
      throw err;
    } finally {
      st.get(`PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`).pluck(true).get();
    }
    try {
      const value = fn(
        (sqlText) => st.get(sqlText),
        (sqlText) => rawMode(st.get(sqlText)),
      );
      st.get('COMMIT').run();
      return { value };
    } catch (err) {
      if (raw.inTransaction) st.get('ROLLBACK').run();
      throw err;
    }
  }

  /** Runs fn in one transaction: all of it commits or none of it. Do not nest. */
  async tx<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    const raw = this.#sqlite;
    if (raw === undefined) return this.db.transaction().execute(fn);
    // Kysely's SQLite driver has one connection behind a mutex; holding it
    // keeps every other query of this process out until COMMIT.
    return this.db.connection().execute(async (conn) => {
      await beginImmediate(raw);
      try {
        const result = await fn(conn);
        raw.exec('COMMIT');
        return result;
      } catch (err) {
        if (raw.inTransaction) raw.exec('ROLLBACK');
        throw err;
      }
    });
  }

  /** A provisioning write: fn in a transaction that also bumps the change counter. */
  async write<T>(fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    const result = await this.tx(async (db) => {
      const r = await fn(db);
      await db
        .updateTable('store_meta')
        .set({ value: sql<number>`value + 1` })
        .where('key', '=', 'changes')
        .execute();
      return r;
    });
    this.#localChanges++;
    return result;
  }

  /**
   * An ORDER BY key that sorts text by code point on both dialects (SQLite's
   * default BINARY collation; PostgreSQL's "C"), so lists come out the same.
   */
  orderText(column: string) {
    return this.dialect === 'postgres' ? sql`${sql.ref(column)} collate "C"` : sql.ref(column);
  }

  /** `column > value` in the order of orderText (a page after a name). */
  afterText(column: string, value: string) {
    return sql<boolean>`${this.orderText(column)} > ${value}`;
  }

  /**
   * The change counter read synchronously, on SQLite only (undefined on
   * PostgreSQL): what a per-call cache checks before trusting what it read
   * at an earlier count.
   */
  changesNow(): number | undefined {
    const stmt = this.#dataVersionStatement();
    return stmt === undefined ? undefined : Number(stmt.get()) + this.#localChanges;
  }

  /** `PRAGMA data_version` prepared once (Database.pragma() prepares it on every call, a few times a call). */
  #dataVersionStatement(): BetterSqlite3.Statement | undefined {
    if (this.#sqlite === undefined) return undefined;
    this.#dataVersion ??= this.#sqlite.prepare('PRAGMA data_version').pluck();
    return this.#dataVersion;
  }

  /**
   * The change counter (see Store.changes). SQLite: PRAGMA data_version
   * (moves when another connection, such as the CLI, commits) plus this
   * process's own provisioning writes. PostgreSQL: store_meta `changes`.
   */
  async changes(): Promise<number> {
    const now = this.changesNow();
    if (now !== undefined) return now;
    const row = await this.db.selectFrom('store_meta').select('value').where('key', '=', 'changes').executeTakeFirst();
    return Number(row?.value ?? 0);
  }
}

/** A reader statement switched to raw mode once (a statement of the sync cache is only ever used one way). */
function rawMode(stmt: BetterSqlite3.Statement): BetterSqlite3.Statement<unknown[], unknown[]> {
  return (stmt as unknown as { raw(on: boolean): BetterSqlite3.Statement<unknown[], unknown[]> }).raw(true);
}

/** Row count of a Kysely insert/update/delete result as a number. */
export function count(n: bigint | number | undefined): number {
  return Number(n ?? 0);
}
