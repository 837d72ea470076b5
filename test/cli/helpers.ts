/**
 * Runs the real `trunkline` CLI (dist/src/cli/main.js) in a child process,
 * and the management flows shared by the SQLite and PostgreSQL suites.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { DatabaseConfig } from '../../src/config/schema.js';
import { openStore, type Store } from '../../src/store/index.js';
import { upsertBinding } from '../../src/registrar/bindings.js';

export const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Standard input; undefined: /dev/null. */
  input?: string;
  cwd?: string;
  env?: Record<string, string>;
}

/** `node dist/src/cli/main.js ARGS`, without TRUNKLINE_CONFIG / DATABASE_URL from the outside. */
export function run(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const env: Record<string, string | undefined> = { ...process.env };
  delete env['TRUNKLINE_CONFIG'];
  delete env['DATABASE_URL'];
  Object.assign(env, opts.env ?? {});
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      cwd: opts.cwd,
      env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => undefined); // the CLI may stop reading after the first line
      child.stdin!.end(opts.input);
    }
  });
}

/** Exit 0, nothing on stderr; the stdout. */
export function ok(r: RunResult, what: string): string {
  assert.equal(r.code, 0, `${what}: exit ${r.code}, stderr ${JSON.stringify(r.stderr)}`);
  assert.equal(r.stderr, '', `${what}: stderr`);
  return r.stdout;
}

/** Exit non-zero (1 unless `code`), exactly one line on stderr matching `message`, nothing on stdout. */
export function failed(r: RunResult, message: string | RegExp, what: string, code = 1): void {
  assert.equal(
    r.code,
    code,
    `${what}: exit ${r.code}, stdout ${JSON.stringify(r.stdout)} stderr ${JSON.stringify(r.stderr)}`,
  );
  assert.match(r.stderr, /^[^\n]+\n$/, `${what}: one line on stderr, got ${JSON.stringify(r.stderr)}`);
  if (typeof message === 'string') assert.equal(r.stderr, `${message}\n`, what);
  else assert.match(r.stderr.trimEnd(), message, what);
  assert.equal(r.stdout, '', `${what}: stdout`);
}

/** A table's rows as cells, checking the header and that every column starts at the same place. */
export function table(out: string, headers: string[]): string[][] {
  const lines = out.trimEnd().split('\n');
  const header = lines[0]!;
  assert.deepEqual(header.split(/\s{2,}/), headers, `header of ${JSON.stringify(out)}`);
  const starts = headers.map((h) => header.indexOf(h));
  return lines.slice(1).map((line) => {
    const cells = starts.map((s, i) => line.slice(s, starts[i + 1] ?? line.length).trim());
    for (const s of starts.slice(1))
      assert.equal(line[s - 1], ' ', `column at ${s} aligned in ${JSON.stringify(line)}`);
    return cells;
  });
}

export const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/**
 * Every command and its errors against the store `db` names, through the
 * config file `config` (run from `cwd`). With `full` false, the errors the
 * CLI finds before it opens the store (bad arguments, the password input)
 * are left out: they do not depend on the database.
 */
export async function managementFlows(config: string, cwd: string, db: DatabaseConfig, full = true): Promise<void> {
  const cli = (args: string[], input?: string): Promise<RunResult> =>
    run([...args, '--config', config], input === undefined ? { cwd } : { cwd, input });
  const json = async (args: string[]): Promise<Record<string, unknown>[]> => {
    const out = ok(await cli([...args, '--json']), args.join(' '));
    const v: unknown = JSON.parse(out);
    assert.ok(Array.isArray(v), `${args.join(' ')} --json: an array`);
    return v as Record<string, unknown>[];
  };

  // Domains
  assert.deepEqual(await json(['domain', 'list']), []);
  if (full) assert.deepEqual(table(ok(await cli(['domain', 'list']), 'domain list'), ['DOMAIN', 'CREATED']), []);
  assert.equal(ok(await cli(['domain', 'add', 'Example.ORG']), 'domain add'), 'added domain example.org\n');
  failed(await cli(['domain', 'add', 'example.org']), 'domain example.org exists', 'duplicate domain');
  if (full)
    failed(
      await cli(['domain', 'add', 'a b']),
      /^domain: expected a host name or IP address, got "a b"$/,
      'bad domain',
    );
  ok(await cli(['domain', 'add', 'example.net']), 'domain add example.net');
  const domains = await json(['domain', 'list']);
  assert.deepEqual(
    domains.map((d) => d['domain']),
    ['example.net', 'example.org'],
  );
  assert.deepEqual(Object.keys(domains[0]!), ['domain', 'createdAt']);
  assert.match(String(domains[0]!['createdAt']), ISO);
  if (full) {
    const drows = table(ok(await cli(['domain', 'list']), 'domain list'), ['DOMAIN', 'CREATED']);
    assert.deepEqual(
      drows.map((r) => r[0]),
      ['example.net', 'example.org'],
    );
    assert.match(drows[0]![1]!, ISO);
  }

  // Subscribers: the password only from stdin, its first line.
  const store: Store = await openStore(db, { env: {} });
  try {
    assert.equal(
      ok(
        await cli(['subscriber', 'add', 'alice@example.org', '--password-stdin'], 'secret\nignored\n'),
        'subscriber add',
      ),
      'added subscriber alice@example.org\n',
    );
    const alice = await store.subscribers.get('alice', 'example.org');
    assert.equal(alice?.ha1Md5, '543e1aec5d3614f03141652d6ada51b2'); // md5('alice:example.org:secret')
    failed(
      await cli(['subscriber', 'add', 'alice@example.org', '--password-stdin'], 'other\n'),
      'subscriber alice@example.org exists',
      'duplicate subscriber',
    );
    failed(
      await cli(['subscriber', 'add', 'bob@example.com', '--password-stdin'], 'x\n'),
      'unknown domain example.com',
      'unknown domain',
    );
    if (full)
      failed(
        await cli(['subscriber', 'add', 'bob@example.org'], 'x\n'),
        /^password: .*--password-stdin/,
        'no --password-stdin',
      );
    if (full)
      failed(
        await cli(['subscriber', 'add', 'bob@example.org', '--password', 'x']),
        /unknown option '--password'/,
        'a password option',
        2,
      );
    if (full)
      failed(
        await cli(['subscriber', 'add', 'bob@example.org', '--password-stdin']),
        /^password: no password on standard input/,
        'no stdin',
      );
    if (full)
      failed(
        await cli(['subscriber', 'add', 'bob@example.org', '--password-stdin'], '\nsecond\n'),
        /^password: no password on standard input/,
        'empty first line',
      );
    if (full)
      failed(
        await cli(['subscriber', 'add', 'nodomain', '--password-stdin'], 'x\n'),
        /^subscriber: expected USER@DOMAIN, got "nodomain"$/,
        'bad address',
      );
    assert.equal(await store.subscribers.get('bob', 'example.org'), undefined, 'no bob after the refusals');
    ok(await cli(['subscriber', 'add', 'bob@example.org', '--password-stdin'], 'pw\r\n'), 'add bob (CRLF)');
    assert.equal((await store.subscribers.get('bob', 'example.org'))?.ha1Md5, md5('bob:example.org:pw'));
    ok(await cli(['subscriber', 'add', 'carol@example.net', '--password-stdin'], 'c'), 'add carol (no newline)');
    assert.equal((await store.subscribers.get('carol', 'example.net'))?.ha1Md5, md5('carol:example.net:c'));

    assert.equal(
      ok(await cli(['subscriber', 'passwd', 'alice@example.org', '--password-stdin'], 'newpw\n'), 'passwd'),
      'changed the password of alice@example.org\n',
    );
    assert.equal((await store.subscribers.get('alice', 'example.org'))?.ha1Md5, md5('alice:example.org:newpw'));
    failed(
      await cli(['subscriber', 'passwd', 'ghost@example.org', '--password-stdin'], 'x\n'),
      'unknown subscriber ghost@example.org',
      'passwd of a missing subscriber',
    );
    if (full)
      failed(
        await cli(['subscriber', 'passwd', 'alice@example.org']),
        /^password: /,
        'passwd without --password-stdin',
      );

    const subs = await json(['subscriber', 'list']);
    assert.deepEqual(
      subs.map((s) => s['subscriber']),
      ['carol@example.net', 'alice@example.org', 'bob@example.org'],
    );
    assert.deepEqual(Object.keys(subs[0]!), ['subscriber', 'username', 'domain', 'createdAt', 'updatedAt']);
    assert.equal(subs[1]!['username'], 'alice');
    assert.equal(subs[1]!['domain'], 'example.org');
    assert.ok(!JSON.stringify(subs).includes('543e1aec'), 'no HA1 in the list');
    assert.deepEqual(
      (await json(['subscriber', 'list', '--domain', 'example.org'])).map((s) => s['subscriber']),
      ['alice@example.org', 'bob@example.org'],
    );
    failed(
      await cli(['subscriber', 'list', '--domain', 'nope.org']),
      'unknown domain nope.org',
      'list of a missing domain',
    );
    if (full) {
      const srows = table(ok(await cli(['subscriber', 'list']), 'subscriber list'), [
        'SUBSCRIBER',
        'CREATED',
        'UPDATED',
      ]);
      assert.deepEqual(
        srows.map((r) => r[0]),
        ['carol@example.net', 'alice@example.org', 'bob@example.org'],
      );
    }

    // Aliases
    assert.equal(
      ok(await cli(['alias', 'add', '+912240001234', 'alice@example.org']), 'alias add number'),
      'added alias +912240001234 -> alice@example.org\n',
    );
    ok(await cli(['alias', 'add', '+9122400012*', 'bob@example.org']), 'alias add prefix');
    ok(await cli(['alias', 'add', 'sales', 'alice@example.org']), 'alias add name');
    failed(
      await cli(['alias', 'add', '+912240001234', 'bob@example.org']),
      'alias +912240001234 exists',
      'duplicate alias',
    );
    if (full)
      failed(
        await cli(['alias', 'add', '+91abc', 'alice@example.org']),
        /^alias: expected an E\.164 number like \+912240001234, a prefix like \+9122400012\* or a name, got "\+91abc"$/,
        'bad number',
      );
    if (full)
      failed(await cli(['alias', 'add', '+1234567890123456', 'alice@example.org']), /^alias: /, 'number too long');
    failed(
      await cli(['alias', 'add', '+14155550100', 'ghost@example.org']),
      'unknown subscriber ghost@example.org',
      'alias for a missing subscriber',
    );
    if (full)
      failed(
        await cli(['alias', 'add', '+14155550100', 'ghost']),
        /^subscriber: expected USER@DOMAIN/,
        'alias, bad address',
      );
    const aliases = await json(['alias', 'list']);
    assert.deepEqual(
      aliases.map((a) => [a['alias'], a['subscriber']]),
      [
        ['+9122400012*', 'bob@example.org'],
        ['+912240001234', 'alice@example.org'],
        ['sales', 'alice@example.org'],
      ],
    );
    assert.deepEqual(Object.keys(aliases[0]!), ['alias', 'subscriber', 'username', 'domain', 'createdAt']);
    if (full) {
      const arows = table(ok(await cli(['alias', 'list']), 'alias list'), ['ALIAS', 'SUBSCRIBER', 'CREATED']);
      assert.deepEqual(
        arows.map((r) => r.slice(0, 2)),
        aliases.map((a) => [a['alias'], a['subscriber']]),
      );
    }
    assert.equal((await store.aliases.resolve('+912240001299'))?.username, 'bob', 'the prefix alias works');
    assert.equal(ok(await cli(['alias', 'rm', 'sales']), 'alias rm'), 'removed alias sales (was alice@example.org)\n');
    failed(await cli(['alias', 'rm', 'sales']), 'unknown alias sales', 'rm of a missing alias');
    if (full) failed(await cli(['alias', 'rm', '+91 22']), /^alias: expected/, 'rm of a bad alias');

    // Location: bindings as the registrar writes them.
    const expiresAt = Date.now() + 3600_000;
    const binding = (aor: string, contact: string, callId: string, received: string | null = null) =>
      upsertBinding(store.location, {
        aor,
        callId,
        cseq: 1,
        contact,
        expiresAt,
        received,
        proto: 'udp',
        localHost: '127.0.0.1',
        localPort: 5060,
        remoteHost: '192.0.2.10',
        remotePort: 5062,
      });
    await binding('alice@example.org', 'sip:alice@192.0.2.10:5062', 'c1', 'sip:198.51.100.7:40000');
    await binding('alice@example.org', 'sip:alice@192.0.2.11:5060', 'c2');
    await binding('bob@example.org', 'sip:bob@192.0.2.12:5060', 'c3');
    const locs = await json(['location', 'list']);
    assert.equal(locs.length, 3);
    assert.deepEqual(new Set(locs.map((l) => l['aor'])), new Set(['alice@example.org', 'bob@example.org']));
    const first = locs.find((l) => l['contact'] === 'sip:alice@192.0.2.10:5062')!;
    assert.equal(first['received'], 'sip:198.51.100.7:40000');
    for (const key of ['aor', 'contact', 'received', 'expires']) assert.ok(key in first, `location --json has ${key}`);
    assert.ok(typeof first['expires'] === 'number' && first['expires'] > 3500 && first['expires'] <= 3600);
    assert.match(String(first['expiresAt']), ISO);
    const lrows = table(ok(await cli(['location', 'list']), 'location list'), [
      'AOR',
      'CONTACT',
      'RECEIVED',
      'EXPIRES',
    ]);
    assert.equal(lrows.length, 3);
    const bobRow = lrows.find((r) => r[0] === 'bob@example.org')!;
    assert.equal(bobRow[1], 'sip:bob@192.0.2.12:5060');
    assert.equal(bobRow[2], '-');
    assert.match(bobRow[3]!, /^\d+$/);
    assert.equal(
      ok(await cli(['location', 'rm', 'sip:alice@Example.org']), 'location rm'),
      'removed 2 registrations of alice@example.org\n',
    );
    failed(
      await cli(['location', 'rm', 'alice@example.org']),
      'no registrations for alice@example.org',
      'rm, none left',
    );
    if (full)
      failed(await cli(['location', 'rm', 'nobody']), /^aor: expected USER@DOMAIN, got "nobody"$/, 'rm of a bad AOR');
    assert.deepEqual(
      (await json(['location', 'list'])).map((l) => l['aor']),
      ['bob@example.org'],
    );

    // Removing a subscriber takes its aliases and registrations along.
    assert.equal(
      ok(await cli(['subscriber', 'rm', 'bob@example.org']), 'subscriber rm'),
      'removed subscriber bob@example.org with 1 alias, 1 binding\n',
    );
    failed(
      await cli(['subscriber', 'rm', 'bob@example.org']),
      'unknown subscriber bob@example.org',
      'rm of a missing subscriber',
    );
    assert.deepEqual(await json(['location', 'list']), []);
    assert.deepEqual(
      (await json(['alias', 'list'])).map((a) => a['alias']),
      ['+912240001234'],
    );

    // Domains with subscribers: refused unless --cascade.
    failed(
      await cli(['domain', 'rm', 'example.org']),
      /^domain example\.org has 1 subscriber/,
      'rm of a domain in use',
    );
    assert.equal(
      ok(await cli(['domain', 'rm', 'example.org', '--cascade']), 'domain rm --cascade'),
      'removed domain example.org with 1 subscriber, 1 alias, 0 bindings\n',
    );
    failed(await cli(['domain', 'rm', 'example.org']), 'unknown domain example.org', 'rm of a missing domain');
    assert.deepEqual(
      (await json(['domain', 'list'])).map((d) => d['domain']),
      ['example.net'],
    );
    assert.deepEqual(
      (await json(['subscriber', 'list'])).map((s) => s['subscriber']),
      ['carol@example.net'],
    );
    assert.deepEqual(await json(['alias', 'list']), []);
  } finally {
    await store.close();
  }
}
