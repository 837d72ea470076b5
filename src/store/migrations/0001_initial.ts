/**
 * 0001: domains, subscribers, aliases, location, store_meta.
 */
import { sql, type Kysely, type Migration } from 'kysely';
import { columnTypes, type StoreDialect } from './types.js';

export function initial(dialect: StoreDialect): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('store_meta')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', t.int64, (c) => c.notNull())
        .execute();
      await db.insertInto('store_meta').values({ key: 'changes', value: 0 }).execute();

      await db.schema
        .createTable('domains')
        .addColumn('domain', 'text', (c) => c.primaryKey())
        .addColumn('created_at', t.int64, (c) => c.notNull())
        .execute();

      await t
        .id(db.schema.createTable('subscribers'))
        .addColumn('username', 'text', (c) => c.notNull())
        .addColumn('domain', 'text', (c) => c.notNull().references('domains.domain').onDelete('restrict'))
        .addColumn('ha1_md5', 'text', (c) => c.notNull())
        .addColumn('ha1_sha256', 'text', (c) => c.notNull())
        .addColumn('created_at', t.int64, (c) => c.notNull())
        .addColumn('updated_at', t.int64, (c) => c.notNull())
        .addUniqueConstraint('subscribers_username_domain', ['username', 'domain'])
        .execute();
      await db.schema.createIndex('subscribers_domain').on('subscribers').column('domain').execute();

      await db.schema
        .createTable('aliases')
        .addColumn('alias', 'text', (c) => c.primaryKey())
        .addColumn('subscriber_id', t.int64, (c) => c.notNull().references('subscribers.id').onDelete('cascade'))
        .addColumn('created_at', t.int64, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('aliases_subscriber').on('aliases').column('subscriber_id').execute();

      await t
        .id(db.schema.createTable('location'))
        .addColumn('aor', 'text', (c) => c.notNull())
        .addColumn('contact', 'text', (c) => c.notNull())
        .addColumn('received', 'text')
        .addColumn('path', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('instance', 'text')
        .addColumn('reg_id', 'integer')
        .addColumn('call_id', 'text', (c) => c.notNull())
        .addColumn('cseq', 'integer', (c) => c.notNull())
        .addColumn('q', 'double precision', (c) => c.notNull().defaultTo(1))
        .addColumn('expires_at', t.int64, (c) => c.notNull())
        .addColumn('proto', 'text', (c) => c.notNull())
        .addColumn('local_host', 'text', (c) => c.notNull())
        .addColumn('local_port', 'integer', (c) => c.notNull())
        .addColumn('remote_host', 'text', (c) => c.notNull())
        .addColumn('remote_port', 'integer', (c) => c.notNull())
        .addColumn('connection_id', 'text')
        .addColumn('user_agent', 'text')
        .addColumn('updated_at', t.int64, (c) => c.notNull())
        .addUniqueConstraint('location_aor_contact', ['aor', 'contact'])
        .execute();
      // RFC 5626: with +sip.instance, (aor, instance, reg-id) names one flow.
      await sql`create unique index location_flow on location (aor, instance, coalesce(reg_id, 0)) where instance is not null`.execute(
        db,
      );
      await db.schema.createIndex('location_expires').on('location').column('expires_at').execute();
    },
  };
}
