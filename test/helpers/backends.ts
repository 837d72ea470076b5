/**
 * The two databases the store, trunking and API tests run on: SQLite (a
 * temp file per database, in a directory removed by cleanup()) and
 * PostgreSQL at DATABASE_URL_TEST or the local one (a schema per database,
 * dropped by cleanup(); a suite is skipped with the reason when it does not
 * answer).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { DatabaseConfig } from '../../src/config/schema.js';
import { PG_URL, connectPostgres, schemaUrl } from './postgres.js';

export interface Backend {
  name: 'sqlite' | 'postgres';
  /** For suite names: SQLite, PostgreSQL. */
  label: string;
  /** false, or why a suite on this database is skipped. */
  skip(): Promise<string | false>;
  /** A config naming a new, empty database (its own file or schema). */
  fresh(): Promise<DatabaseConfig>;
  /** Removes every database fresh() made. */
  cleanup(): Promise<void>;
}

/** `tag` names the temp directory (trunkline-<tag>-...), so that a left-over one says whose it is. */
export function sqliteBackend(tag = 'test'): Backend {
  let dir: string | undefined;
  let n = 0;
  return {
    name: 'sqlite',
    label: 'SQLite',
    skip: async () => false,
    async fresh() {
      dir ??= await mkdtemp(join(tmpdir(), `trunkline-${tag}-`));
      // A directory that does not exist yet: openStore creates it.
      return { kind: 'sqlite', file: join(dir, `t${++n}`, 'trunkline.db') };
    },
    async cleanup() {
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `tag` starts the schema names (tl_<tag>_<pid>_...). */
export function postgresBackend(tag = 'test', base = PG_URL): Backend {
  const schemas: string[] = [];
  const prefix = `tl_${tag}_${process.pid}_${randomBytes(3).toString('hex')}`;
  let admin: pg.Client | undefined;
  return {
    name: 'postgres',
    label: 'PostgreSQL',
    skip: () => postgresSkip(base),
    async fresh() {
      if (admin === undefined) {
        admin = new pg.Client({ connectionString: base });
        await admin.connect();
      }
      const schema = `${prefix}_${schemas.length + 1}`;
      await admin.query(`create schema ${schema}`);
      schemas.push(schema);
      return { kind: 'postgres', url: schemaUrl(schema, base) };
    },
    async cleanup() {
      if (admin === undefined) return;
      for (const s of schemas) await admin.query(`drop schema if exists ${s} cascade`);
      schemas.length = 0;
      await admin.end();
      admin = undefined;
    },
  };
}

/** Why PostgreSQL cannot be used, or false when it answers (a test's `skip`). */
export async function postgresSkip(url = PG_URL): Promise<string | false> {
  const client = await connectPostgres(url);
  if (typeof client === 'string') return client;
  await client.end().catch(() => undefined);
  return false;
}
