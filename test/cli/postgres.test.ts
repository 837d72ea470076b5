/**
 * The management commands' flows once against PostgreSQL at
 * DATABASE_URL_TEST or postgres://postgres@127.0.0.1:5432/test, in a schema
 * of their own (created and dropped here). Skipped, with the reason, when
 * PostgreSQL does not answer.
 */
import { test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { maskUrl } from '../../src/store/index.js';
import { managementFlows } from './helpers.js';

const PG_URL = process.env['DATABASE_URL_TEST'] || 'postgres://postgres@127.0.0.1:5432/test';

async function connect(): Promise<pg.Client | string> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return client;
  } catch (err) {
    await client.end().catch(() => undefined);
    return `PostgreSQL not reachable at ${maskUrl(PG_URL)}: ${err instanceof Error ? err.message : String(err)} (start it with scripts/install-deps.sh, or set DATABASE_URL_TEST)`;
  }
}

test('domain, subscriber, alias and location commands against PostgreSQL', async (t) => {
  const admin = await connect();
  if (typeof admin === 'string') {
    t.skip(admin);
    return;
  }
  const schema = `tl_cli_${process.pid}_${randomBytes(3).toString('hex')}`;
  const dir = await mkdtemp(join(tmpdir(), 'trunkline-cli-pg-'));
  try {
    await admin.query(`create schema ${schema}`);
    const u = new URL(PG_URL);
    u.searchParams.set('options', `-c search_path=${schema}`);
    const url = u.toString();
    const config = join(dir, 'test.yaml');
    await writeFile(config, `data: ${join(dir, 'data')}\ndatabase: ${JSON.stringify(url)}\n`);
    await managementFlows(config, dir, { kind: 'postgres', url });
  } finally {
    await admin.query(`drop schema if exists ${schema} cascade`);
    await admin.end();
    await rm(dir, { recursive: true, force: true });
  }
});
