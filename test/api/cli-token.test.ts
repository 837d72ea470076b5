/** `trunkline token add/list/rm` against a SQLite store of its own, as a user runs it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../helpers/server.js';
import { run } from '../helpers/sipp.js';
import { openStore } from '../../src/store/index.js';

test('token add prints the token once (stdout alone), list never shows it, rm revokes; bad role, bad name, unknown token: one line, non-zero', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-token-'));
  const config = join(dir, 'trunkline.yaml');
  writeFileSync(config, `data: ${JSON.stringify(join(dir, 'data'))}\n`);
  const cli = (...args: string[]) => run(process.execPath, [CLI, ...args, '--config', config], 15_000);
  try {
    const [a, b] = await Promise.all([
      cli('token', 'add', 'grafana', '--role', 'read'),
      cli('token', 'add', 'portal', '--role', 'admin'),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const token = a.stdout.trim();
    assert.match(a.stdout, /^tl_[A-Za-z0-9_-]{43}\n$/);
    assert.equal(a.stderr, 'added read token grafana; it is shown this once:\n');
    const list = await cli('token', 'list');
    assert.match(list.stdout, /^NAME +ROLE +CREATED +LAST USED\ngrafana +read +\S+ +-\nportal +admin /);
    assert.ok(!list.stdout.includes(token));
    const store = await openStore({ kind: 'sqlite', file: join(dir, 'data', 'trunkline.db') }, { env: {} });
    try {
      const rows = await store.db.selectFrom('api_tokens').selectAll().orderBy('name').execute();
      assert.equal(rows[0]!.token_hash, createHash('sha256').update(token).digest('hex'));
      assert.ok(!JSON.stringify(rows).includes(token), 'only the hash is kept');
    } finally {
      await store.close();
    }
    let r = await cli('token', 'add', 'grafana', '--role', 'read');
    assert.deepEqual([r.code, r.stderr, r.stdout], [1, 'token grafana exists\n', '']);
    r = await cli('token', 'add', 'x', '--role', 'root');
    assert.deepEqual([r.code, r.stderr], [1, 'role: expected admin|read, got "root"\n']);
    r = await cli('token', 'add', 'bad name', '--role', 'read');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^name: expected 1-64 letters/);
    r = await cli('token', 'add', 'x');
    assert.equal(r.code, 2, 'a missing --role is a usage error');
    assert.match(r.stderr, /--role/);
    r = await cli('token', 'rm', 'grafana');
    assert.deepEqual([r.code, r.stdout], [0, 'removed read token grafana\n']);
    r = await cli('token', 'rm', 'grafana');
    assert.deepEqual([r.code, r.stderr], [1, 'unknown token grafana\n']);
    r = await cli('token', 'list', '--json');
    assert.deepEqual(
      JSON.parse(r.stdout).map((t: { name: string }) => t.name),
      ['portal'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
