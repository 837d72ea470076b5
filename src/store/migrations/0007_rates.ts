/**
 * 0007: rate decks and least-cost routing.
 *
 * - rate_decks: one row per deck of a carrier. An import fills a `loading`
 *   deck in short transactions (nothing of it is read), then one small
 *   transaction makes it the carrier's `active` deck and the one before
 *   `retired` (its rows are then deleted in batches). So a deck of a million
 *   rows swaps atomically without holding the database's write lock for
 *   long, and a bad file leaves nothing behind.
 * - rates: the rows of a deck. Money in micro-units (integers: exact), the
 *   increments in seconds, effective_at in ms since the epoch (0: always);
 *   the primary key (deck, prefix, effective_at) is the index lookups use
 *   (on SQLite the table itself: WITHOUT ROWID).
 * - routes.mode (`priority`, `lcr`, `weighted`) and route_carriers.weight
 *   (weighted routes only, else null).
 * - cdrs: the buy cost of a call (micro-units), the rate and prefix it was
 *   priced by, and the seconds billed; null when not priced.
 */
import { sql, type Kysely, type Migration } from 'kysely';
import { columnTypes, type StoreDialect } from './types.js';

export function rates(dialect: StoreDialect): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<any>): Promise<void> {
      await t
        .id(db.schema.createTable('rate_decks'))
        .addColumn('carrier', 'text', (c) => c.notNull().references('carriers.name').onDelete('cascade'))
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('row_count', t.int64, (c) => c.notNull().defaultTo(0))
        .addColumn('source', 'text')
        .addColumn('created_at', t.int64, (c) => c.notNull())
        .addColumn('activated_at', t.int64)
        .execute();
      await db.schema.createIndex('rate_decks_carrier').on('rate_decks').column('carrier').execute();
      // At most one active deck per carrier.
      await sql`create unique index rate_decks_active on rate_decks (carrier) where state = 'active'`.execute(db);

      await db.schema
        .createTable('rates')
        // No foreign key: PostgreSQL checks one per inserted row (a third of an import's time); the
        // repositories remove a deck's rows with it (rates.ts, and carriers.ts for a carrier removed).
        .addColumn('deck', t.int64, (c) => c.notNull())
        .addColumn('prefix', 'text', (c) => c.notNull())
        .addColumn('effective_at', t.int64, (c) => c.notNull())
        .addColumn('rate', t.int64, (c) => c.notNull())
        .addColumn('fee', t.int64, (c) => c.notNull())
        .addColumn('first_incr', 'integer', (c) => c.notNull())
        .addColumn('next_incr', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('rates_pk', ['deck', 'prefix', 'effective_at'])
        // SQLite: the rows kept in the primary key's B-tree itself, not in a second one (half the writes).
        .$call((b) => (dialect === 'sqlite' ? b.modifyEnd(sql`without rowid`) : b))
        .execute();

      await db.schema
        .alterTable('routes')
        .addColumn('mode', 'text', (c) => c.notNull().defaultTo('priority'))
        .execute();
      await db.schema.alterTable('route_carriers').addColumn('weight', 'integer').execute();

      await db.schema.alterTable('cdrs').addColumn('cost', t.int64).execute();
      await db.schema.alterTable('cdrs').addColumn('rate', t.int64).execute();
      await db.schema.alterTable('cdrs').addColumn('rate_prefix', 'text').execute();
      await db.schema.alterTable('cdrs').addColumn('billed', 'integer').execute();
    },
  };
}
