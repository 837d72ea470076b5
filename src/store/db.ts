/**
 * The store: one Kysely<Database> over SQLite (better-sqlite3, the embedded
 * default: a file in the data directory) or PostgreSQL (pg), with the
 * repositories on top. `openStore()` opens it, creates the file (and its
 * directory) when missing, and runs the pending migrations before it
 * returns; a migration that fails refuses the start with an error naming it
 * and leaves the database as it was.
 *
 * Which database:
 * - `config.database` (`sqlite:PATH`, `sqlite::memory:` or
 *   `postgres://USER@HOST/DB` in the config file; SQLite in the data
 *   directory by default);
 * - the environment variable `DATABASE_URL`, when set and not empty,
 *   overrides it, in the same forms (a relative `sqlite:` path is taken from
 *   the working directory). The server and every management command read it
 *   alike, so both find the same store.
 *
 * SQLite runs in WAL mode (readers never wait for the writer, the CLI and a
 * running server share the file) with foreign keys on. Every write is a
 * BEGIN IMMEDIATE transaction that waits for another writer without
 * blocking the event loop, up to 5 s (see beginImmediate).
 *
 * Live reload: `changes()` is a cheap number that moves whenever a
 * provisioning write (domains, subscribers, aliases, and later trunks,
 * routes...) commits, from this process or any other; a server polls it
 * (about once a second) and reloads what it caches when it moved. On SQLite
 * it is PRAGMA data_version (moves when another connection commits) plus an
 * in-process count of this store's own writes: no query, no I/O. On
 * PostgreSQL it reads the `store_meta` row `changes`, which every
 * provisioning write increments in its own transaction. The value is only
 * for comparing with an earlier value of the same Store: it never goes
 * down, and may move for writes that changed nothing a server caches
 * (on SQLite, any commit by another process).
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { withStatementCache } from './statement-cache.js';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type Migration, type MigrationResultSet } from 'kysely';
import type { DatabaseConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { SQLITE_BUSY_TIMEOUT_MS, StoreContext, beginImmediate, type StoreDialect } from './context.js';
import { StoreError, messageOf } from './errors.js';
import { migrations as defaultMigrations } from './migrations/index.js';
import type { Database } from './schema.js';
import { AliasRepo } from './repos/aliases.js';
import { DomainRepo } from './repos/domains.js';
import { LocationRepo } from './repos/location.js';
import { SubscriberRepo } from './repos/subscribers.js';
import { AccountRepo } from './repos/accounts.js';
import { TrunkRepo } from './repos/trunks.js';
import { DidRepo } from './repos/dids.js';
import { CarrierRepo } from './repos/carriers.js';
import { RouteRepo } from './repos/routes.js';
import { CdrRepo } from './repos/cdrs.js';
import { RateRepo } from './repos/rates.js';
import { PriceRepo } from './repos/prices.js';
import { DialPlanRepo } from './repos/dial-plans.js';

export type { StoreDialect } from './context.js';

/** The environment variable that overrides `config.database`. */
export const DATABASE_URL_ENV = 'DATABASE_URL';

export { SQLITE_BUSY_TIMEOUT_MS } from './context.js';

/** Kysely's bookkeeping tables, named for the store. */
const MIGRATION_TABLE = 'store_migration';
const MIGRATION_LOCK_TABLE = 'store_migration_lock';

export interface StoreOptions {
  log?: Logger;
  /** Where DATABASE_URL is read; process.env by default (tests pass `{}`). */
  env?: Record<string, string | undefined>;
  /** Milliseconds since the epoch; Date.now by default. */
  now?: () => number;
  /** The migrations to run instead of the built-in list (tests). */
  migrations?: (dialect: StoreDialect) => Record<string, Migration>;
}

export interface Store {
  readonly dialect: StoreDialect;
  /** `sqlite:/abs/file` or the PostgreSQL URL with any password masked, for logs. */
  readonly target: string;
  /** The name of the last migration the database has run. */
  readonly schemaVersion: string;
  /** The query builder, for repositories to come; prefer the repositories. */
  readonly db: Kysely<Database>;
  /** Transactions and the change counter, for repositories to come. */
  readonly ctx: StoreContext;
  readonly domains: DomainRepo;
  readonly subscribers: SubscriberRepo;
  readonly aliases: AliasRepo;
  readonly location: LocationRepo;
  readonly accounts: AccountRepo;
  readonly trunks: TrunkRepo;
  readonly dids: DidRepo;
  readonly carriers: CarrierRepo;
  readonly routes: RouteRepo;
  readonly cdrs: CdrRepo;
  readonly rates: RateRepo;
  /** What accounts pay per prefix (0010_sell_prices). */
  readonly prices: PriceRepo;
  readonly dialPlans: DialPlanRepo;
  /** A number that moves when provisioning data changed (see above). */
  changes(): Promise<number>;
  /** Resolves when the database answers a query (readiness); rejects with a StoreError. */
  ping(): Promise<void>;
  /** Closes the connection(s); later calls do nothing. */
  close(): Promise<void>;
}

/** `config.database`, or what DATABASE_URL names when it is set. */
export function resolveDatabaseConfig(
  config: DatabaseConfig,
  env: Record<string, string | undefined> = process.env,
): DatabaseConfig {
  const url = env[DATABASE_URL_ENV]?.trim();
  if (url === undefined || url === '') return config;
  if (/^postgres(ql)?:\/\//i.test(url)) {
    try {
      new URL(url);
    } catch {
      throw new StoreError(`${DATABASE_URL_ENV}: not a valid postgres:// URL`);
    }
    return { kind: 'postgres', url };
  }
  if (/^sqlite:/i.test(url)) {
    let file = url.slice('sqlite:'.length).trim();
    if (file.startsWith('//')) file = file.slice(2);
    if (file !== '') return { kind: 'sqlite', file: file === ':memory:' ? file : resolve(file) };
  }
  throw new StoreError(`${DATABASE_URL_ENV}: expected sqlite:PATH or postgres://USER@HOST/DB`);
}

/** The URL without its password. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

/**
 * Opens the store `config` names (or DATABASE_URL), migrating it to the
 * latest schema. Rejects with a StoreError naming the database, or the
 * migration that failed.
 */
export async function openStore(config: DatabaseConfig, opts: StoreOptions = {}): Promise<Store> {
  const target = resolveDatabaseConfig(config, opts.env ?? process.env);
  const now = opts.now ?? Date.now;
  const list = opts.migrations ?? defaultMigrations;
  return target.kind === 'sqlite'
    ? openSqlite(target.file, now, list, opts.log)
    : openPostgres(target.url, now, list, opts.log);
}

/**
 * PRAGMA journal_mode = WAL, tried again while another connection holds the
 * lock (for up to the busy timeout): on a database another process is
 * creating at the same moment (two CLI commands on a fresh install) SQLite
 * answers SQLITE_BUSY at once, without its busy handler, where waiting
 * could deadlock.
 */
async function walMode(raw: BetterSqlite3.Database): Promise<string> {
  for (const end = Date.now() + SQLITE_BUSY_TIMEOUT_MS; ;) {
    try {
      return String(raw.pragma('journal_mode = WAL', { simple: true }));
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'SQLITE_BUSY' || Date.now() >= end) throw err;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function openSqlite(
  file: string,
  now: () => number,
  list: (d: StoreDialect) => Record<string, Migration>,
  log: Logger | undefined,
): Promise<Store> {
  const name = `sqlite:${file}`;
  let raw: BetterSqlite3.Database | undefined;
  try {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    raw = new BetterSqlite3(file);
    raw.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    if (file !== ':memory:') {
      const mode = await walMode(raw);
      if (mode.toLowerCase() !== 'wal') log?.warn({ mod: 'store', mode }, 'store: SQLite refused WAL mode');
    }
    raw.pragma('synchronous = NORMAL');
    raw.pragma('foreign_keys = ON');
  } catch (err) {
    raw?.close();
    throw new StoreError(`store: cannot open ${name}: ${messageOf(err)}`, { cause: err });
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(raw) }) });
  try {
    const version = await migrate(db, 'sqlite', list, log, raw, undefined);
    log?.info({ mod: 'store', database: name, schema: version }, 'store open');
    return kyselyStore(db, 'sqlite', name, version, new StoreContext(db, 'sqlite', now, raw));
  } catch (err) {
    await db.destroy().catch(() => undefined);
    throw err;
  }
}

/** int8 (counts, bigint columns) as JS numbers: every value we keep fits in 2^53. */
function typeParser(oid: number, format?: string): unknown {
  if (oid === pg.types.builtins.INT8) return (value: string) => Number(value);
  return (pg.types.getTypeParser as (oid: number, format?: string) => unknown)(oid, format);
}

async function openPostgres(
  url: string,
  now: () => number,
  list: (d: StoreDialect) => Record<string, Migration>,
  log: Logger | undefined,
): Promise<Store> {
  const name = maskUrl(url);
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
    application_name: 'trunkline',
    types: { getTypeParser: typeParser as pg.CustomTypesConfig['getTypeParser'] },
  });
  pool.on('error', (err) => {
    log?.warn({ mod: 'store', database: name, err: messageOf(err) }, 'store: idle PostgreSQL connection failed');
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    let schema: string | null;
    try {
      const r = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
      schema = r.rows[0]?.schema ?? null;
    } catch (err) {
      throw new StoreError(`store: cannot connect to ${name}: ${messageOf(err)}`, { cause: err });
    }
    if (schema === null) {
      throw new StoreError(`store: ${name}: no schema of the search_path exists; create one or set search_path`);
    }
    const version = await migrate(db, 'postgres', list, log, undefined, schema);
    log?.info({ mod: 'store', database: name, schema: version }, 'store open');
    return kyselyStore(db, 'postgres', name, version, new StoreContext(db, 'postgres', now));
  } catch (err) {
    await db.destroy().catch(() => undefined);
    throw err;
  }
}

/**
 * Runs the pending migrations, all in one transaction: on PostgreSQL
 * Kysely's own (under its advisory lock); on SQLite a BEGIN IMMEDIATE
 * around the run (Kysely does not use transactions for SQLite DDL), which
 * also keeps a second process from migrating at the same time.
 */
async function migrate(
  db: Kysely<Database>,
  dialect: StoreDialect,
  list: (d: StoreDialect) => Record<string, Migration>,
  log: Logger | undefined,
  sqlite: BetterSqlite3.Database | undefined,
  schema: string | undefined,
): Promise<string> {
  const all = list(dialect);
  const names = Object.keys(all).sort();
  // Up to date already (the common case: every start after the first, every CLI command): no
  // migrator, whose table lookup spans every schema of a PostgreSQL database and fails when another
  // schema is dropped meanwhile.
  if (sqlite === undefined && (await alreadyMigrated(db, schema, names))) return names.at(-1) ?? '';
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => all },
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
    // Migrations are numbered per feature; a database made by a build that had a later number
    // (0004) before an earlier one (0003) still takes the earlier one.
    allowUnorderedMigrations: true,
    // Kysely's table lookup spans every schema; name ours so another
    // schema's tables (another Trunkline in the same database) never count.
    ...(schema !== undefined && { migrationTableSchema: schema }),
  });
  let result: MigrationResultSet;
  for (let attempt = 1; ; attempt++) {
    try {
      if (sqlite !== undefined) await beginImmediate(sqlite);
      result = await migrator.migrateToLatest();
    } catch (err) {
      result = { error: err };
    }
    if (attempt === LOOKUP_ATTEMPTS || !otherSchemaDropped(result.error, schema)) break;
    // Another process dropping its schemas one after the other (a test suite's teardown) can
    // hit several lookups in a row: wait a little longer each time.
    await new Promise((r) => setTimeout(r, 25 * attempt));
  }
  if (result.error !== undefined) {
    if (sqlite?.inTransaction) sqlite.exec('ROLLBACK');
    const err = result.error;
    const failed = result.results?.find((r) => r.status === 'Error');
    const missing = /previously executed migration (\S+) is missing/.exec(messageOf(err));
    const message =
      failed !== undefined
        ? `store: migration ${failed.migrationName} failed: ${messageOf(err)}`
        : missing !== null
          ? `store: the database ran migration ${missing[1]}, which this Trunkline does not know (was it migrated by a newer version?)`
          : `store: migrating failed: ${messageOf(err)}`;
    throw new StoreError(message, { cause: err });
  }
  if (sqlite?.inTransaction) sqlite.exec('COMMIT');
  for (const r of result.results ?? []) {
    if (r.status === 'Success') log?.info({ mod: 'store', migration: r.migrationName }, 'store: migration applied');
  }
  return names.at(-1) ?? '';
}

/** Runs of the migrator whose table lookup met a schema dropped meanwhile, at most. */
const LOOKUP_ATTEMPTS = 10;

/**
 * A failure of the migrator's table lookup (it spans every schema of the
 * database) because another schema was dropped while it ran (PostgreSQL
 * 3F000 invalid_schema_name, naming a schema not ours): nothing of ours
 * was touched (the migrations run in one transaction after it), so the
 * run is tried again.
 */
function otherSchemaDropped(err: unknown, schema: string | undefined): boolean {
  if (err === undefined || schema === undefined) return false;
  const code = (err as { code?: unknown }).code;
  const named = /schema "([^"]+)" does not exist/.exec(messageOf(err));
  return code === '3F000' && named !== null && named[1] !== schema;
}

/** Whether this schema's migration table lists every migration of this build (PostgreSQL). */
async function alreadyMigrated(db: Kysely<Database>, schema: string | undefined, names: string[]): Promise<boolean> {
  try {
    const table = schema === undefined ? sql.table(MIGRATION_TABLE) : sql.table(`${schema}.${MIGRATION_TABLE}`);
    const rows = await sql<{ name: string }>`select name from ${table}`.execute(db);
    const ran = new Set(rows.rows.map((r) => r.name));
    return names.every((n) => ran.has(n)) && ran.size === names.length;
  } catch {
    return false; // no table yet: a new database
  }
}

/** The Store over an opened, migrated database. */
function kyselyStore(
  db: Kysely<Database>,
  dialect: StoreDialect,
  target: string,
  version: string,
  ctx: StoreContext,
): Store {
  let closed: Promise<void> | undefined;
  return {
    dialect,
    target,
    schemaVersion: version,
    db,
    ctx,
    domains: new DomainRepo(ctx),
    subscribers: new SubscriberRepo(ctx),
    aliases: new AliasRepo(ctx),
    location: new LocationRepo(ctx),
    accounts: new AccountRepo(ctx),
    trunks: new TrunkRepo(ctx),
    dids: new DidRepo(ctx),
    carriers: new CarrierRepo(ctx),
    routes: new RouteRepo(ctx),
    cdrs: new CdrRepo(ctx),
    rates: new RateRepo(ctx),
    prices: new PriceRepo(ctx),
    dialPlans: new DialPlanRepo(ctx),
    changes: () => ctx.changes(),
    async ping(): Promise<void> {
      if (closed !== undefined) throw new StoreError(`store: ${target} is closed`);
      try {
        await sql`select 1`.execute(db);
      } catch (err) {
        throw new StoreError(`store: ${target} does not answer: ${messageOf(err)}`, { cause: err });
      }
    },
    close(): Promise<void> {
      closed ??= db.destroy();
      return closed;
    },
  };
}
