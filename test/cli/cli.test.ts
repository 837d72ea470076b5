/**
 * The management commands (domain, subscriber, alias, location) run as the
 * real CLI (dist/src/cli/main.js in a child process): every command and
 * error against SQLite in a temp data directory, the same flows once against
 * PostgreSQL at DATABASE_URL_TEST or postgres://postgres@127.0.0.1:5432/test
 * in a schema of their own (created and dropped here; skipped, with the
 * reason, when PostgreSQL does not answer), --help, and how the config and
 * DATABASE_URL are found. The tests run concurrently: each CLI run is a
 * process start.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectPostgres, schemaUrl } from '../helpers/postgres.js';
import { failed, managementFlows, ok, run } from './helpers.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'trunkline-cli-'));
  dirs.push(d);
  return d;
}

describe('trunkline management commands', { concurrency: true }, () => {
  test('domain, subscriber, alias and location commands against SQLite', async () => {
    const dir = await tempDir();
    const config = join(dir, 'test.yaml');
    await writeFile(config, `data: ${join(dir, 'data')}\n`);
    await managementFlows(config, dir, { kind: 'sqlite', file: join(dir, 'data', 'trunkline.db') });
  });

  test('--help lists the command groups; subscriber add takes no password option; usage errors', async () => {
    const help = ok(await run(['--help']), '--help');
    for (const group of ['serve', 'domain', 'subscriber', 'alias', 'location']) {
      assert.match(help, new RegExp(`^\\s+${group}\\b`, 'm'), `--help lists ${group}`);
    }
    const sub = ok(await run(['subscriber', '--help']), 'subscriber --help');
    for (const c of ['add', 'passwd', 'rm', 'list']) assert.match(sub, new RegExp(`^\\s+${c}\\b`, 'm'));
    const add = ok(await run(['subscriber', 'add', '--help']), 'subscriber add --help');
    assert.match(add, /--password-stdin/);
    assert.doesNotMatch(add, /--password\s+</);
    failed(
      await run(['domain']),
      'domain: missing command (add, rm, list); see trunkline domain --help',
      'a group without a command',
      2,
    );
    failed(await run(['alias', 'bogus']), /^alias: unknown command "bogus" \(add, rm, list\)/, 'an unknown command', 2);
  });

  test('the store is found like the server finds it: --config, TRUNKLINE_CONFIG, ./trunkline.yaml, DATABASE_URL', async () => {
    const dir = await tempDir();
    const config = join(dir, 'other.yaml');
    await writeFile(config, 'data: ./d1\n');
    await writeFile(join(dir, 'trunkline.yaml'), 'data: ./d2\n');
    ok(await run(['domain', 'add', 'one.example', '--config', config], { cwd: dir }), 'add via --config');
    ok(await run(['domain', 'add', 'two.example'], { cwd: dir }), 'add via ./trunkline.yaml');
    const list = async (opts: Parameters<typeof run>[1], args: string[] = []): Promise<unknown> =>
      (JSON.parse(ok(await run(['domain', 'list', '--json', ...args], opts), 'list')) as { domain: string }[]).map(
        (d) => d.domain,
      );
    assert.deepEqual(await list({ cwd: dir, env: { TRUNKLINE_CONFIG: config } }), ['one.example']);
    // --config before the group works too.
    assert.deepEqual(
      (JSON.parse(ok(await run(['--config', config, 'domain', 'list', '--json'], { cwd: dir }), 'list')) as unknown[])
        .length,
      1,
    );
    assert.deepEqual(await list({ cwd: dir }), ['two.example']);
    assert.deepEqual(await list({ cwd: dir, env: { DATABASE_URL: `sqlite:${join(dir, 'd1', 'trunkline.db')}` } }), [
      'one.example',
    ]);
    failed(
      await run(['domain', 'list', '--config', join(dir, 'missing.yaml')], { cwd: dir }),
      /missing\.yaml/,
      'missing config file',
      2,
    );
  });

  test('domain, subscriber, alias and location commands against PostgreSQL', async (t) => {
    const admin = await connectPostgres();
    if (typeof admin === 'string') {
      t.skip(admin);
      return;
    }
    const schema = `tl_cli_${process.pid}_${randomBytes(3).toString('hex')}`;
    const dir = await mkdtemp(join(tmpdir(), 'trunkline-cli-pg-'));
    try {
      await admin.query(`create schema ${schema}`);
      const url = schemaUrl(schema);
      const config = join(dir, 'test.yaml');
      await writeFile(config, `data: ${join(dir, 'data')}\ndatabase: ${JSON.stringify(url)}\n`);
      await managementFlows(config, dir, { kind: 'postgres', url }, false);
    } finally {
      await admin.query(`drop schema if exists ${schema} cascade`);
      await admin.end();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
