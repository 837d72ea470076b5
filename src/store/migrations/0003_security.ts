/**
 * 0003: bans, acl_entries, list_entries (the security edge, src/security/).
 */
import type { Kysely, Migration } from 'kysely';
import { columnTypes, type StoreDialect } from './types.js';

export function security(dialect: StoreDialect): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('bans')
        .addColumn('ip', 'text', (c) => c.primaryKey())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('expires_at', t.int64)
        .addColumn('created_at', t.int64, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('bans_expires').on('bans').column('expires_at').execute();

      await t
        .id(db.schema.createTable('acl_entries'))
        .addColumn('grp', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('cidr', 'text', (c) => c.notNull())
        .addColumn('method', 'text', (c) => c.notNull())
        .addColumn('direction', 'text', (c) => c.notNull())
        .addColumn('created_at', t.int64, (c) => c.notNull())
        .addUniqueConstraint('acl_entries_unique', ['grp', 'action', 'cidr', 'method', 'direction'])
        .execute();

      await t
        .id(db.schema.createTable('list_entries'))
        .addColumn('list', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('created_at', t.int64, (c) => c.notNull())
        .addUniqueConstraint('list_entries_unique', ['list', 'kind', 'value'])
        .execute();
    },
  };
}
