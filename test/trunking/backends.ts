/**
 * The two databases the trunking tests run on: SQLite (a temp file per
 * store) and PostgreSQL at DATABASE_URL_TEST or the local one (a schema per
 * store, dropped at the end; skipped with the reason when it does not
 * answer).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { DatabaseConfig } from '../../src/config/schema.js';
import { PG_URL, connectPostgres, schemaUrl } from '../helpers/postgres.js';

export interface Backend {
  name: 'sqlite' | 'postgres';
  /** A config naming a new, empty database. */
  fresh(): Promise<DatabaseConfig>;
  cleanup(): Promise<void>;
}

export function sqliteBackend(): Backend {
  let dir: string | undefined;
  let n = 0;
  return {
    name: 'sqlite',
    async fresh() {
      dir ??= await mkdtemp(join(tmpdir(), 'trunkline-trunking-'));
      return { kind: 'sqlite', file: join(dir, `t${++n}`, 'trunkline.db') };
    },
    async cleanup() {
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

export function postgresBackend(base = PG_URL): Backend {
  const schemas: string[] = [];
  const tag = `tl_trunking_${process.pid}_${randomBytes(3).toString('hex')}`;
  let admin: pg.Client | undefined;
  return {
    name: 'postgres',
    async fresh() {
      if (admin === undefined) {
        admin = new pg.Client({ connectionString: base });
        await admin.connect();
      }
      const schema = `${tag}_${schemas.length + 1}`;
      await admin.query(`create schema ${schema}`);
      schemas.push(schema);
      return { kind: 'postgres', url: schemaUrl(schema, base) };
    },
    async cleanup() {
      if (admin === undefined) return;
      for (const s of schemas) await admin.query(`drop schema if exists ${s} cascade`);
      await admin.end();
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
