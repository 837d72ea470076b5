/**
 * 0004: api_tokens, the HTTP API's bearer tokens. Only a SHA-256 of each
 * token is kept; the token itself is shown once, when it is made.
 */
import type { Kysely, Migration } from 'kysely';
import { columnTypes, type StoreDialect } from './types.js';

export function api(dialect: StoreDialect): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('api_tokens')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('created_at', t.int64, (c) => c.notNull())
        .addColumn('last_used_at', t.int64)
        .execute();
    },
  };
}
