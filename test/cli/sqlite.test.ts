/**
 * The management commands (domain, subscriber, alias, location) run as the
 * real CLI against SQLite in a temp data directory; also --help and how the
 * config and DATABASE_URL are found.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

test('domain, subscriber, alias and location commands against SQLite', async () => {
  const dir = await tempDir();
  const config = join(dir, 'test.yaml');
  await writeFile(config, `data: ${join(dir, 'data')}\n`);
  await managementFlows(config, dir, { kind: 'sqlite', file: join(dir, 'data', 'trunkline.db') });
});

test('--help lists the command groups; subscriber add takes no password option', async () => {
  const help = ok(await run(['--help']), '--help');
  for (const group of ['serve', 'domain', 'subscriber', 'alias', 'location']) {
    assert.match(help, new RegExp(`^\\s+${group}\\b`, 'm'), `--help lists ${group}`);
  }
  const sub = ok(await run(['subscriber', '--help']), 'subscriber --help');
  for (const c of ['add', 'passwd', 'rm', 'list']) assert.match(sub, new RegExp(`^\\s+${c}\\b`, 'm'));
  const add = ok(await run(['subscriber', 'add', '--help']), 'subscriber add --help');
  assert.match(add, /--password-stdin/);
  assert.doesNotMatch(add, /--password\s+</);
  assert.match(ok(await run(['location', '--help']), 'location --help'), /^\s+rm\b/m);
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
    (JSON.parse(ok(await run(['--config', config, 'domain', 'list', '--json'], { cwd: dir }), 'list')) as unknown[]).length,
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
  await writeFile(join(dir, 'bad.yaml'), 'bogus: 1\n');
  failed(await run(['domain', 'list', '--config', join(dir, 'bad.yaml')], { cwd: dir }), /bogus/, 'unknown config key', 2);
});
