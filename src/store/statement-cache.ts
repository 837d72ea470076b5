import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/**
 * Kysely's SQLite driver calls `prepare(sql)` for every query it runs, and
 * better-sqlite3 compiles the SQL each time: on the registrar's hot path
 * that was the largest single cost. Kysely emits the same SQL text for the
 * same query shape (values are bound parameters), so a bounded map from SQL
 * text to its prepared statement serves nearly every call. Statements are
 * run synchronously by the driver, so sharing one between calls is safe.
 */
export function withStatementCache(raw: BetterSqlite3.Database, max = 500): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    prepare(sql: string): SqliteStatement {
      let stmt = cache.get(sql);
      if (stmt === undefined) {
        stmt = raw.prepare(sql);
        // Oldest first out when full: Map keeps insertion order.
        if (cache.size >= max) cache.delete(cache.keys().next().value as string);
        cache.set(sql, stmt);
      }
      return stmt as unknown as SqliteStatement;
    },
    close(): void {
      cache.clear();
      raw.close();
    },
  };
}
