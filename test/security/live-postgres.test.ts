/**
 * The live pipeline tests (live.test.ts) once more with the server and the
 * CLI on PostgreSQL (DATABASE_URL, read by both, naming a schema of this
 * run's own): bans, ACL and list changes reach the running server through
 * the store_meta change counter instead of SQLite's data_version. Skipped
 * with the reason when PostgreSQL does not answer.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { connectPostgres, schemaUrl } from '../helpers/postgres.js';

const pg = await connectPostgres();
const schema = `sec_live_${randomBytes(4).toString('hex')}`;

after(async () => {
  if (typeof pg === 'string') return;
  await pg.query(`drop schema if exists ${schema} cascade`);
  await pg.end();
});

test(
  'the live security tests pass with the store on PostgreSQL',
  { skip: typeof pg === 'string' ? pg : false, timeout: 120_000 },
  async () => {
    if (typeof pg === 'string') return;
    await pg.query(`create schema ${schema}`);
    const file = fileURLToPath(new URL('./live.test.js', import.meta.url));
    // A child `node --test` under a test runner skips its files unless it is not told it runs inside one.
    const env: Record<string, string | undefined> = { ...process.env, DATABASE_URL: schemaUrl(schema) };
    delete env['NODE_TEST_CONTEXT'];
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, ['--test', '--test-reporter=tap', file], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 110_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, out });
      });
    });
    assert.equal(r.code, 0, r.out.slice(-4000));
    assert.match(r.out, /# pass [1-9]\d*\n# fail 0\n/);
    const rows = await pg.query(`select count(*)::int as n from ${schema}.bans`);
    assert.ok((rows.rows[0] as { n: number }).n >= 1, 'the bans were written to PostgreSQL');
  },
);
