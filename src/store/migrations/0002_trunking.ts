/**
 * 0002: the trunking model (src/trunking/model.ts): accounts, trunks, dids,
 * carriers with their gateways in order, outbound routes with their carriers
 * in order, and cdrs.
 *
 * Lists that the directory reads whole (a trunk's CIDRs and codecs, a
 * carrier's codecs) are JSON text columns; lists that name other rows or
 * whose order is the point (gateways, a route's carriers) are child tables
 * with a `position`. Booleans are integers 0/1 on both dialects.
 *
 * Removal is refused by the database too (ON DELETE RESTRICT) where a row is
 * still used: an account with trunks, a trunk with DIDs, a carrier a route
 * names. The repositories check first and say so in words.
 */
import type { Kysely, Migration } from 'kysely';
import { columnTypes, type ColumnTypes, type StoreDialect } from './types.js';

export function trunking(dialect: StoreDialect): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<any>): Promise<void> {
      await createAccounts(db, t);
      await createTrunks(db, t);
      await createDids(db, t);
      await createCarriers(db, t);
      await createCarrierGateways(db);
      await createRoutes(db, t);
      await createRouteCarriers(db);
      await createCdrs(db, t);
    },
  };
}

// One function per table, in the order they were created; the SQL must stay the one that shipped.

async function createAccounts(db: Kysely<any>, t: ColumnTypes): Promise<void> {
  await db.schema
    .createTable('accounts')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('cpm', 'integer')
    .addColumn('max_calls', 'integer')
    .addColumn('created_at', t.int64, (c) => c.notNull())
    .execute();
}

async function createTrunks(db: Kysely<any>, t: ColumnTypes): Promise<void> {
  await db.schema
    .createTable('trunks')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('account', 'text', (c) => c.notNull().references('accounts.name').onDelete('restrict'))
    // JSON array of CIDRs; '[]' for a registration trunk.
    .addColumn('ip', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('register', 'text', (c) => c.unique())
    .addColumn('transport', 'text')
    .addColumn('tls_fingerprint', 'text')
    .addColumn('dest', 'text')
    .addColumn('cpm', 'integer', (c) => c.notNull())
    .addColumn('max_calls', 'integer')
    .addColumn('media', 'text', (c) => c.notNull().defaultTo('any'))
    // JSON array of codec names; '[]' = as offered.
    .addColumn('codecs', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('created_at', t.int64, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('trunks_account').on('trunks').column('account').execute();
}

async function createDids(db: Kysely<any>, t: ColumnTypes): Promise<void> {
  await db.schema
    .createTable('dids')
    .addColumn('number', 'text', (c) => c.primaryKey())
    .addColumn('trunk', 'text', (c) => c.notNull().references('trunks.name').onDelete('restrict'))
    .addColumn('created_at', t.int64, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('dids_trunk').on('dids').column('trunk').execute();
}

async function createCarriers(db: Kysely<any>, t: ColumnTypes): Promise<void> {
  await db.schema
    .createTable('carriers')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('username', 'text')
    .addColumn('password', 'text')
    .addColumn('register', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('prefix', 'text')
    .addColumn('plus', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('media', 'text', (c) => c.notNull().defaultTo('any'))
    .addColumn('codecs', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('created_at', t.int64, (c) => c.notNull())
    .execute();
}

async function createCarrierGateways(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('carrier_gateways')
    .addColumn('carrier', 'text', (c) => c.notNull().references('carriers.name').onDelete('cascade'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('uri', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('carrier_gateways_pk', ['carrier', 'position'])
    .execute();
}

async function createRoutes(db: Kysely<any>, t: ColumnTypes): Promise<void> {
  await db.schema
    .createTable('routes')
    .addColumn('prefix', 'text', (c) => c.primaryKey())
    .addColumn('created_at', t.int64, (c) => c.notNull())
    .execute();
}

async function createRouteCarriers(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('route_carriers')
    .addColumn('prefix', 'text', (c) => c.notNull().references('routes.prefix').onDelete('cascade'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('carrier', 'text', (c) => c.notNull().references('carriers.name').onDelete('restrict'))
    .addPrimaryKeyConstraint('route_carriers_pk', ['prefix', 'position'])
    .execute();
  await db.schema.createIndex('route_carriers_carrier').on('route_carriers').column('carrier').execute();
}

/** One row per call; no foreign keys: a record outlives the trunk it names. */
async function createCdrs(db: Kysely<any>, t: ColumnTypes): Promise<void> {
  await db.schema
    .createTable('cdrs')
    .addColumn('call_sid', 'text', (c) => c.primaryKey())
    .addColumn('account', 'text')
    .addColumn('trunk', 'text')
    .addColumn('carrier', 'text')
    .addColumn('direction', 'text', (c) => c.notNull())
    .addColumn('call_from', 'text', (c) => c.notNull())
    .addColumn('call_to', 'text', (c) => c.notNull())
    .addColumn('start_at', t.int64, (c) => c.notNull())
    .addColumn('answer_at', t.int64)
    .addColumn('end_at', t.int64, (c) => c.notNull())
    .addColumn('duration', 'integer', (c) => c.notNull())
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('hangup_by', 'text', (c) => c.notNull())
    .addColumn('extra', 'text')
    .execute();
  // Lists page by (start_at, call_sid), newest first, optionally for one trunk or account.
  await db.schema.createIndex('cdrs_start').on('cdrs').columns(['start_at', 'call_sid']).execute();
  await db.schema.createIndex('cdrs_trunk_start').on('cdrs').columns(['trunk', 'start_at', 'call_sid']).execute();
  await db.schema.createIndex('cdrs_account_start').on('cdrs').columns(['account', 'start_at', 'call_sid']).execute();
}
