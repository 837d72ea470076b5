import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/**
 * Prepared SQLite statements by SQL text. better-sqlite3 compiles the SQL
 * at every `prepare`, and Kysely's SQLite driver prepares every query it
 * runs: on the registrar's hot path that was the largest single cost. The
 * same query shape gives the same SQL text (values are bound parameters),
 * so a bounded map serves nearly every call. Statements are run
 * synchronously, so sharing one between calls is safe.
 */
export class StatementCache {
  readonly #raw: BetterSqlite3.Database;
  readonly #max: number;
  readonly #cache = new Map<string, BetterSqlite3.Statement>();

  constructor(raw: BetterSqlite3.Database, max = 500) {
    this.#raw = raw;
    this.#max = max;
  }

  /** The prepared statement for `sql`, compiled on first use. */
  get(sql: string): BetterSqlite3.Statement {
    let stmt = this.#cache.get(sql);
    if (stmt === undefined) {
      stmt = this.#raw.prepare(sql);
      // Oldest first out when full: Map keeps insertion order.
      if (this.#cache.size >= this.#max) this.#cache.delete(this.#cache.keys().next().value as string);
      this.#cache.set(sql, stmt);
    }
    return stmt;
  }

  clear(): void {
    this.#cache.clear();
  }
}

/** better-sqlite3 as Kysely's SqliteDialect sees it, preparing through `cache`. */
export function withStatementCache(raw: BetterSqlite3.Database, cache = new StatementCache(raw)): SqliteDatabase {
  return {
    prepare(sql: string): SqliteStatement {
      return cache.get(sql) as unknown as SqliteStatement;
    },
    close(): void {
      cache.clear();
      raw.close();
    },
  };
}
