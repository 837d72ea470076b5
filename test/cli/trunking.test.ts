/**
 * The trunking commands (account, trunk, did, carrier, route, cdr) run as
 * the real CLI (dist/src/cli/main.js in a child process) against SQLite in
 * a temp data directory and against PostgreSQL in a schema of its own
 * (skipped with the reason when it does not answer): every command, its
 * table and JSON forms, one-line errors naming the bad argument or the
 * missing object, and a running directory that sees a CLI change within 2 s.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { DatabaseConfig } from '../../src/config/schema.js';
import { openStore } from '../../src/store/index.js';
import { StoreTrunkingDirectory } from '../../src/trunking/directory.js';
import { PG_URL, connectPostgres, schemaUrl } from '../helpers/postgres.js';
import { failed, ok, run, table, type RunResult } from './helpers.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'trunkline-cli-trunking-'));
  dirs.push(d);
  return d;
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** A config file in a temp dir naming `database` (or SQLite in the dir), and the store's config. */
async function setup(database?: string): Promise<{ config: string; cwd: string; db: DatabaseConfig }> {
  const cwd = await tempDir();
  const config = join(cwd, 'test.yaml');
  if (database === undefined) {
    await writeFile(config, `data: ${join(cwd, 'data')}\n`);
    return { config, cwd, db: { kind: 'sqlite', file: join(cwd, 'data', 'trunkline.db') } };
  }
  await writeFile(config, `database: ${JSON.stringify(database)}\n`);
  return { config, cwd, db: { kind: 'postgres', url: database } };
}

async function flows(config: string, cwd: string, db: DatabaseConfig): Promise<void> {
  const cli = (args: string[], input?: string): Promise<RunResult> =>
    run([...args, '--config', config], input === undefined ? { cwd } : { cwd, input });
  const json = async (args: string[]): Promise<Record<string, unknown>[]> => {
    const v: unknown = JSON.parse(ok(await cli([...args, '--json']), args.join(' ')));
    assert.ok(Array.isArray(v), `${args.join(' ')} --json: an array`);
    return v as Record<string, unknown>[];
  };
  const show = async (args: string[]): Promise<Record<string, unknown>> => {
    const v: unknown = JSON.parse(ok(await cli([...args, '--json']), args.join(' ')));
    assert.ok(v !== null && typeof v === 'object' && !Array.isArray(v), `${args.join(' ')} --json: an object`);
    return v as Record<string, unknown>;
  };

  // Accounts
  assert.deepEqual(await json(['account', 'list']), []);
  assert.deepEqual(
    table(ok(await cli(['account', 'list']), 'account list'), ['NAME', 'CPM', 'MAX CALLS', 'CREATED']),
    [],
  );
  assert.equal(
    ok(await cli(['account', 'add', 'acme', '--cpm', '100', '--max-calls', '10']), 'account add'),
    'added account acme\n',
  );
  ok(await cli(['account', 'add', 'beta']), 'account add beta');
  failed(await cli(['account', 'add', 'acme']), 'account acme exists', 'duplicate account');
  failed(
    await cli(['account', 'add', 'x', '--cpm', 'lots']),
    'cpm: expected an integer from 1 to 1000000, got "lots"',
    'bad cpm',
  );
  failed(await cli(['account', 'add', 'x', '--max-calls', '0']), /^max-calls: /, 'bad max-calls');
  failed(await cli(['account', 'add', 'a b']), /^name: expected a name/, 'bad name');
  failed(
    await cli(['account', 'add', 'x', '--sell-below-cost', 'maybe']),
    'sell-below-cost: expected yes or no, got "maybe"',
    'bad sell-below-cost',
  );
  const accounts = await json(['account', 'list']);
  assert.deepEqual(accounts, [
    { name: 'acme', cpm: 100, maxCalls: 10, sellBelowCost: false, createdAt: accounts[0]!['createdAt'] },
    { name: 'beta', cpm: null, maxCalls: null, sellBelowCost: false, createdAt: accounts[1]!['createdAt'] },
  ]);
  assert.match(String(accounts[0]!['createdAt']), ISO);
  const arows = table(ok(await cli(['account', 'list']), 'account list'), ['NAME', 'CPM', 'MAX CALLS', 'CREATED']);
  assert.deepEqual(
    arows.map((r) => r.slice(0, 3)),
    [
      ['acme', '100', '10'],
      ['beta', '-', '-'],
    ],
  );
  failed(await cli(['account', 'show', 'ghost']), 'unknown account ghost', 'show of a missing account');

  // Trunks
  assert.equal(
    ok(
      await cli([
        'trunk',
        'add',
        'pbx',
        '--account',
        'acme',
        '--ip',
        '127.0.0.2,10.0.0.0/8',
        '--transport',
        'tls',
        '--dest',
        'sip:pbx@127.0.0.2:5070',
        '--cpm',
        '20',
        '--max-calls',
        '2',
        '--media',
        'srtp',
        '--codecs',
        'PCMA,PCMU,telephone-event',
      ]),
      'trunk add',
    ),
    'added trunk pbx (account acme)\n',
  );
  ok(await cli(['trunk', 'add', 'reg', '--account', 'acme', '--register', 'pbx@Example.org']), 'trunk add --register');
  ok(await cli(['trunk', 'add', 'bpbx', '--account', 'beta', '--ip', '127.0.0.3']), 'trunk add bpbx');
  failed(
    await cli(['trunk', 'add', 'x', '--account', 'ghost', '--ip', '127.0.0.4']),
    'unknown account ghost',
    'trunk of a missing account',
  );
  failed(
    await cli(['trunk', 'add', 'pbx', '--account', 'acme', '--ip', '127.0.0.4']),
    'trunk pbx exists',
    'duplicate trunk',
  );
  failed(await cli(['trunk', 'add', 'x', '--ip', '127.0.0.4']), /^account: /, 'no --account');
  failed(
    await cli(['trunk', 'add', 'x', '--account', 'acme']),
    /^ip: give exactly one of --ip/,
    'neither --ip nor --register',
  );
  failed(
    await cli(['trunk', 'add', 'x', '--account', 'acme', '--ip', '1.2.3.4', '--register', 'a@b.org']),
    /^ip: /,
    'both',
  );
  failed(
    await cli(['trunk', 'add', 'x', '--account', 'acme', '--ip', '1.2.3.400']),
    /^ip: expected an IP address or CIDR/,
    'bad ip',
  );
  failed(
    await cli(['trunk', 'add', 'x', '--account', 'acme', '--ip', '1.2.3.4,']),
    /^ip: expected a comma-separated list/,
    'empty ip item',
  );
  failed(
    await cli(['trunk', 'add', 'x', '--account', 'acme', '--ip', '1.2.3.4', '--transport', 'sctp']),
    /^transport: expected one of udp, tcp, tls/,
    'bad transport',
  );
  failed(
    await cli(['trunk', 'add', 'x', '--account', 'acme', '--ip', '1.2.3.4', '--tls-fingerprint', 'zz']),
    /^tls-fingerprint: /,
    'bad fingerprint',
  );
  failed(
    await cli(['trunk', 'add', 'x', '--account', 'acme', '--ip', '1.2.3.4', '--dest', 'mailto:a@b']),
    /^dest: expected a SIP URI/,
    'bad dest',
  );
  failed(
    await cli(['trunk', 'add', 'x', '--account', 'acme', '--ip', '1.2.3.4', '--media', 'zrtp']),
    /^media: /,
    'bad media',
  );
  failed(
    await cli(['trunk', 'add', 'x', '--account', 'acme', '--ip', '1.2.3.4', '--codecs', 'PC MA']),
    /^codecs: /,
    'bad codecs',
  );
  failed(
    await cli(['trunk', 'add', 'x', '--account', 'acme', '--ip', '1.2.3.4', '--codecs', 'PCMA,PCMX']),
    /^codecs: unknown codec "PCMX"/,
    'unknown codec',
  );
  failed(
    await cli(['trunk', 'add', 'x', '--account', 'acme', '--register', 'nodomain']),
    /^register: expected USER@DOMAIN/,
    'bad register',
  );
  const trunks = await json(['trunk', 'list']);
  assert.deepEqual(
    trunks.map((t) => t['name']),
    ['bpbx', 'pbx', 'reg'],
  );
  assert.deepEqual(Object.keys(trunks[0]!), [
    'name',
    'account',
    'ip',
    'register',
    'transport',
    'tlsFingerprint',
    'dest',
    'cpm',
    'maxCalls',
    'media',
    'codecs',
    'dialPlan',
    'createdAt',
  ]);
  const pbx = trunks[1]!;
  assert.deepEqual(pbx['ip'], ['127.0.0.2/32', '10.0.0.0/8']);
  assert.equal(pbx['transport'], 'tls');
  assert.equal(pbx['cpm'], 20);
  assert.equal(pbx['maxCalls'], 2);
  assert.equal(pbx['media'], 'srtp');
  assert.deepEqual(pbx['codecs'], ['PCMA', 'PCMU', 'telephone-event']);
  assert.equal(trunks[2]!['register'], 'pbx@example.org');
  assert.equal(trunks[2]!['cpm'], 200, 'default cpm');
  assert.equal(trunks[2]!['media'], 'any', 'default media');
  const trows = table(ok(await cli(['trunk', 'list']), 'trunk list'), [
    'NAME',
    'ACCOUNT',
    'SOURCE',
    'TRANSPORT',
    'DEST',
    'CPM',
    'MAX CALLS',
    'MEDIA',
    'CODECS',
  ]);
  assert.deepEqual(trows[1], [
    'pbx',
    'acme',
    '127.0.0.2/32,10.0.0.0/8',
    'tls',
    'sip:pbx@127.0.0.2:5070',
    '20',
    '2',
    'srtp',
    'PCMA,PCMU,telephone-event',
  ]);
  assert.deepEqual(trows[2]!.slice(0, 4), ['reg', 'acme', 'register pbx@example.org', 'any']);
  assert.deepEqual(
    (await json(['trunk', 'list', '--account', 'beta'])).map((t) => t['name']),
    ['bpbx'],
  );
  failed(await cli(['trunk', 'show', 'ghost']), 'unknown trunk ghost', 'show of a missing trunk');

  // DIDs
  assert.equal(
    ok(await cli(['did', 'add', '+912240001234', '--trunk', 'pbx']), 'did add'),
    'added DID +912240001234 -> trunk pbx (account acme)\n',
  );
  ok(await cli(['did', 'add', '+9122400012*', '--trunk', 'reg']), 'did add prefix');
  ok(await cli(['did', 'add', '+14155550100', '--trunk', 'bpbx']), 'did add bpbx');
  failed(
    await cli(['did', 'add', '+912240001234', '--trunk', 'bpbx']),
    'DID +912240001234 exists (trunk pbx)',
    'duplicate DID',
  );
  failed(
    await cli(['did', 'add', '+14155550101', '--trunk', 'ghost']),
    'unknown trunk ghost',
    'DID of a missing trunk',
  );
  failed(
    await cli(['did', 'add', '912240001234', '--trunk', 'pbx']),
    /^number: expected an E\.164 number like \+912240001234 or a prefix like \+9122400012\*, got "912240001234"$/,
    'bad number',
  );
  failed(await cli(['did', 'add', '+14155550101']), /^trunk: did add needs --trunk/, 'no --trunk');
  const dids = await json(['did', 'list']);
  assert.deepEqual(
    dids.map((d) => [d['number'], d['trunk'], d['account']]),
    [
      ['+14155550100', 'bpbx', 'beta'],
      ['+9122400012*', 'reg', 'acme'],
      ['+912240001234', 'pbx', 'acme'],
    ],
  );
  assert.deepEqual(
    table(ok(await cli(['did', 'list', '--account', 'acme']), 'did list'), [
      'NUMBER',
      'TRUNK',
      'ACCOUNT',
      'CREATED',
    ]).map((r) => r[0]),
    ['+9122400012*', '+912240001234'],
  );
  const acme = await show(['account', 'show', 'acme']);
  assert.deepEqual(acme['trunks'], ['pbx', 'reg']);
  assert.deepEqual(acme['dids'], ['+9122400012*', '+912240001234']);
  const pbxShow = await show(['trunk', 'show', 'pbx']);
  assert.deepEqual(pbxShow['dids'], ['+912240001234']);
  const showText = ok(await cli(['trunk', 'show', 'pbx']), 'trunk show');
  assert.match(showText, /^name\s+pbx$/m);
  assert.match(showText, /^ip\s+127\.0\.0\.2\/32,10\.0\.0\.0\/8$/m);
  assert.match(showText, /^maxCalls\s+2$/m);

  // Carriers: the password only from stdin, never printed.
  assert.equal(
    ok(
      await cli(
        [
          'carrier',
          'add',
          'up',
          '--gateway',
          'sip:127.0.0.5:5080;transport=udp,sip:127.0.0.6:5080',
          '--username',
          'trunk1',
          '--password-stdin',
          '--register',
          '--codecs',
          'PCMU',
        ],
        'Carr13r-pw\n',
      ),
      'carrier add',
    ),
    'added carrier up with 2 gateways\n',
  );
  ok(
    await cli(['carrier', 'add', 'cheap', '--gateway', 'sip:127.0.0.7', '--prefix', '99', '--no-plus']),
    'carrier add cheap',
  );
  failed(await cli(['carrier', 'add', 'up', '--gateway', 'sip:127.0.0.8']), 'carrier up exists', 'duplicate carrier');
  failed(await cli(['carrier', 'add', 'x']), /^gateway: carrier add needs --gateway/, 'no gateway');
  failed(
    await cli(['carrier', 'add', 'x', '--gateway', 'http://127.0.0.8']),
    /^gateway: expected a SIP URI/,
    'bad gateway',
  );
  failed(
    await cli(['carrier', 'add', 'x', '--gateway', 'sip:127.0.0.8', '--username', 'u']),
    /^password: --username needs --password-stdin/,
    'no password',
  );
  failed(
    await cli(['carrier', 'add', 'x', '--gateway', 'sip:127.0.0.8', '--username', 'u', '--password-stdin']),
    /^password: no password on standard input/,
    'empty stdin',
  );
  failed(
    await cli(['carrier', 'add', 'x', '--gateway', 'sip:127.0.0.8', '--register']),
    /^register: /,
    'register without credentials',
  );
  failed(await cli(['carrier', 'add', 'x', '--gateway', 'sip:127.0.0.8', '--prefix', '9a']), /^prefix: /, 'bad prefix');
  failed(
    await cli(['carrier', 'add', 'x', '--gateway', 'sip:127.0.0.8', '--codecs', 'PCMX,telephone-event']),
    /^codecs: unknown codec "PCMX"/,
    'unknown carrier codec',
  );
  failed(
    await cli(['carrier', 'add', 'x', '--gateway', 'sip:127.0.0.8', '--password', 'p']),
    /unknown option '--password'/,
    'a password option',
    2,
  );
  const carriers = await json(['carrier', 'list']);
  assert.ok(!JSON.stringify(carriers).includes('Carr13r-pw'), 'no password in carrier list --json');
  assert.deepEqual(
    carriers.map((c) => [
      c['name'],
      c['gateways'],
      c['username'],
      c['hasPassword'],
      c['register'],
      c['prefix'],
      c['plus'],
    ]),
    [
      ['cheap', ['sip:127.0.0.7'], null, false, false, '99', false],
      ['up', ['sip:127.0.0.5:5080;transport=udp', 'sip:127.0.0.6:5080'], 'trunk1', true, true, null, true],
    ],
  );
  const ctext = ok(await cli(['carrier', 'list']), 'carrier list');
  assert.ok(!ctext.includes('Carr13r-pw'));
  table(ctext, ['NAME', 'GATEWAYS', 'USERNAME', 'REGISTER', 'PREFIX', 'PLUS', 'MEDIA', 'CODECS']);
  const upShow = ok(await cli(['carrier', 'show', 'up']), 'carrier show');
  assert.ok(!upShow.includes('Carr13r-pw'), 'no password in carrier show');
  assert.match(upShow, /^hasPassword\s+true$/m);
  const store = await openStore(db, { env: {} });
  try {
    assert.equal(
      (await store.carriers.withSecret('up')).password,
      'Carr13r-pw',
      'the password is kept for digest answers',
    );
  } finally {
    await store.close();
  }

  // Routes
  assert.equal(ok(await cli(['route', 'add', '+', '--carrier', 'up']), 'route add default'), 'added route + -> up\n');
  ok(await cli(['route', 'add', '+91', '--carrier', 'cheap,up']), 'route add +91');
  failed(
    await cli(['route', 'add', '+44', '--carrier', 'up,ghost']),
    'unknown carrier ghost',
    'route to a missing carrier',
  );
  failed(await cli(['route', 'add', '+91', '--carrier', 'up']), 'route +91 exists', 'duplicate route');
  failed(await cli(['route', 'add', '44', '--carrier', 'up']), /^prefix: expected \+/, 'bad prefix');
  failed(await cli(['route', 'add', '+44']), /^carrier: route add needs --carrier/, 'no carrier');
  assert.deepEqual(
    (await json(['route', 'list'])).map((r) => [r['prefix'], r['carriers']]),
    [
      ['+', ['up']],
      ['+91', ['cheap', 'up']],
    ],
  );
  assert.deepEqual(
    table(ok(await cli(['route', 'list']), 'route list'), ['PREFIX', 'MODE', 'CARRIERS', 'CREATED']).map((r) =>
      r.slice(0, 3),
    ),
    [
      ['+', 'priority', 'up'],
      ['+91', 'priority', 'cheap,up'],
    ],
  );
  assert.deepEqual((await show(['carrier', 'show', 'cheap']))['routes'], ['+91']);

  // route explain: what a call would meet, from the same directory the server builds.
  const ex = await show(['route', 'explain', '0091 22 4000 1234', '--from', 'pbx']);
  assert.deepEqual(ex, {
    trunk: 'pbx',
    account: 'acme',
    dialPlan: null,
    dialled: '0091 22 4000 1234',
    number: '+912240001234',
    emergency: false,
    route: '+91',
    mode: 'priority',
    carriers: [
      {
        name: 'cheap',
        gateways: ['sip:127.0.0.7'],
        sends: '99912240001234',
        rate: null,
        why: "number 1 of the route's list (mode priority)",
      },
      {
        name: 'up',
        gateways: ['sip:127.0.0.5:5080;transport=udp', 'sip:127.0.0.6:5080'],
        sends: '+912240001234',
        rate: null,
        why: "number 2 of the route's list (mode priority)",
      },
    ],
    leftOut: [],
    did: { number: '+912240001234', trunk: 'pbx', account: 'acme' },
    refused: null,
  });
  const exDefault = await show(['route', 'explain', '+442079460000', '--from', 'bpbx']);
  assert.equal(exDefault['route'], '+');
  assert.equal(exDefault['account'], 'beta');
  assert.match(
    String((await show(['route', 'explain', 'abc', '--from', 'pbx']))['refused']),
    /^484: Address Incomplete \(not a phone number/,
  );
  const exText = ok(await cli(['route', 'explain', '+912240001234', '--from', 'pbx']), 'route explain');
  assert.match(exText, /^route\s+\+91$/m);
  assert.match(exText, /^verdict\s+routed/m);
  failed(
    await cli(['route', 'explain', '+1', '--from', 'ghost']),
    'unknown trunk ghost',
    'explain from a missing trunk',
  );
  failed(
    await cli(['route', 'explain', '+1']),
    /^from: route explain needs --from TRUNK or --from-ip IP$/,
    'explain without --from',
  );

  // Removal: refused while in use, with a clear line; cascade says what went.
  failed(
    await cli(['carrier', 'rm', 'cheap']),
    'carrier cheap is used by route +91 (remove or change them first)',
    'rm of a carrier in use',
  );
  failed(
    await cli(['account', 'rm', 'acme']),
    'account acme has 2 trunks (pbx, reg); remove them first, or cascade',
    'rm of an account in use',
  );
  failed(
    await cli(['trunk', 'rm', 'pbx']),
    'trunk pbx has 1 DID (remove them first, or cascade)',
    'rm of a trunk in use',
  );
  assert.equal(ok(await cli(['route', 'rm', '+91']), 'route rm'), 'removed route +91 (was cheap, up)\n');
  failed(await cli(['route', 'rm', '+91']), 'unknown route +91', 'rm of a missing route');
  assert.equal(ok(await cli(['carrier', 'rm', 'cheap']), 'carrier rm'), 'removed carrier cheap with 1 gateway\n');
  failed(await cli(['carrier', 'rm', 'cheap']), 'unknown carrier cheap', 'rm of a missing carrier');
  assert.equal(ok(await cli(['did', 'rm', '+14155550100']), 'did rm'), 'removed DID +14155550100 (was trunk bpbx)\n');
  failed(await cli(['did', 'rm', '+14155550100']), 'unknown DID +14155550100', 'rm of a missing DID');
  assert.equal(ok(await cli(['trunk', 'rm', 'bpbx']), 'trunk rm'), 'removed trunk bpbx (account beta)\n');
  assert.equal(
    ok(await cli(['trunk', 'rm', 'pbx', '--cascade']), 'trunk rm --cascade'),
    'removed trunk pbx (account acme) with 1 DID\n',
  );
  assert.equal(
    ok(await cli(['account', 'rm', 'acme', '--cascade']), 'account rm --cascade'),
    'removed account acme with 1 trunk, 1 DID\n',
  );
  assert.equal(ok(await cli(['account', 'rm', 'beta']), 'account rm'), 'removed account beta\n');
  failed(await cli(['account', 'rm', 'beta']), 'unknown account beta', 'rm of a missing account');
  assert.deepEqual(await json(['did', 'list']), []);
  assert.deepEqual(await json(['trunk', 'list']), []);

  // CDRs, as the B2BUA writes them.
  const s2 = await openStore(db, { env: {} });
  try {
    const base = Date.parse('2026-03-01T10:00:00Z');
    for (let i = 0; i < 5; i++) {
      await s2.cdrs.insert({
        callSid: `CA${i}`,
        account: 'acme',
        trunk: i < 3 ? 'pbx' : 'other',
        carrier: 'up',
        direction: i % 2 === 0 ? 'outbound' : 'inbound',
        from: '+912240001234',
        to: '+14155550100',
        startAt: base + i * 60_000,
        answerAt: i === 4 ? null : base + i * 60_000 + 2000,
        endAt: base + i * 60_000 + 12_000,
        duration: i === 4 ? 0 : 10,
        status: i === 4 ? 486 : 200,
        reason: i === 4 ? 'Busy Here' : 'OK',
        hangupBy: 'caller',
        extra: null,
      });
    }
  } finally {
    await s2.close();
  }
  const cdrs = await json(['cdr', 'list']);
  assert.deepEqual(
    cdrs.map((c) => c['callSid']),
    ['CA4', 'CA3', 'CA2', 'CA1', 'CA0'],
  );
  assert.equal(cdrs[0]!['startAt'], '2026-03-01T10:04:00.000Z');
  assert.equal(cdrs[0]!['answerAt'], null);
  assert.equal(cdrs[0]!['status'], 486);
  assert.deepEqual(Object.keys(cdrs[0]!), [
    'callSid',
    'account',
    'trunk',
    'carrier',
    'direction',
    'from',
    'to',
    'startAt',
    'answerAt',
    'endAt',
    'duration',
    'status',
    'reason',
    'hangupBy',
    'extra',
    'cost',
    'rate',
    'ratePrefix',
    'billed',
    'fromReceived',
    'toReceived',
    'emergency',
    'gateway',
    'pddMs',
    'q850',
    'mos',
    'price',
    'aCallId',
    'bCallId',
    'ringMs',
    'durationMs',
  ]);
  assert.deepEqual(
    (await json(['cdr', 'list', '--trunk', 'pbx'])).map((c) => c['callSid']),
    ['CA2', 'CA1', 'CA0'],
  );
  assert.deepEqual(
    (await json(['cdr', 'list', '--since', '2026-03-01T10:02:00Z'])).map((c) => c['callSid']),
    ['CA4', 'CA3', 'CA2'],
  );
  assert.deepEqual(
    (await json(['cdr', 'list', '--since', '2026-03-01T11:02:00+01:00', '--trunk', 'pbx'])).map((c) => c['callSid']),
    ['CA2'],
  );
  assert.deepEqual(
    (await json(['cdr', 'list', '--direction', 'inbound'])).map((c) => c['callSid']),
    ['CA3', 'CA1'],
  );
  assert.deepEqual(
    (await json(['cdr', 'list', '--disposition', 'failed'])).map((c) => c['callSid']),
    ['CA4'],
  );
  assert.deepEqual(
    (await json(['cdr', 'list', '--limit', '2'])).map((c) => c['callSid']),
    ['CA4', 'CA3'],
  );
  const page = JSON.parse(ok(await cli(['cdr', 'list', '--json', '--page', '--limit', '3']), 'cdr page')) as {
    cdrs: { callSid: string }[];
    next: string;
  };
  assert.deepEqual(
    page.cdrs.map((c) => c.callSid),
    ['CA4', 'CA3', 'CA2'],
  );
  assert.deepEqual(
    (await json(['cdr', 'list', '--cursor', page.next])).map((c) => c['callSid']),
    ['CA1', 'CA0'],
  );
  const crows = table(ok(await cli(['cdr', 'list', '--account', 'acme']), 'cdr list'), [
    'START',
    'CALL SID',
    'DIRECTION',
    'ACCOUNT',
    'TRUNK',
    'CARRIER',
    'FROM',
    'TO',
    'DURATION',
    'COST',
    'STATUS',
    'HANGUP',
  ]);
  assert.deepEqual(crows[0], [
    '2026-03-01T10:04:00.000Z',
    'CA4',
    'outbound',
    'acme',
    'other',
    'up',
    '+912240001234',
    '+14155550100',
    '0',
    '-',
    '486',
    'caller',
  ]);
  failed(
    await cli(['cdr', 'list', '--since', 'yesterday']),
    'since: expected an ISO 8601 time like 2026-01-31T12:00:00Z, got "yesterday"',
    'bad --since',
  );
  failed(await cli(['cdr', 'list', '--direction', 'up']), /^direction: /, 'bad --direction');
  failed(await cli(['cdr', 'list', '--limit', '0']), /^limit: /, 'bad --limit');
  failed(await cli(['cdr', 'list', '--cursor', '!!']), /^cursor: /, 'bad --cursor');
}

/** A directory on the same store as the CLI sees `trunk add` / `did add` / `route add` within 2 s of the command's exit. */
async function reloadAfterCli(config: string, cwd: string, db: DatabaseConfig): Promise<number[]> {
  const cli = (args: string[]): Promise<RunResult> => run([...args, '--config', config], { cwd });
  ok(await cli(['account', 'add', 'acme']), 'account add');
  ok(await cli(['carrier', 'add', 'up', '--gateway', 'sip:127.0.0.5']), 'carrier add');
  const store = await openStore(db, { env: {} });
  const directory = new StoreTrunkingDirectory({ store });
  const took: number[] = [];
  try {
    await directory.start();
    const seen = async (args: string[], check: () => boolean): Promise<void> => {
      ok(await cli(args), args.join(' '));
      const start = Date.now();
      while (!check()) {
        if (Date.now() - start > 2000)
          assert.fail(`${args.join(' ')}: the running directory did not see it within 2 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
      took.push(Date.now() - start);
    };
    await seen(
      ['trunk', 'add', 'pbx', '--account', 'acme', '--ip', '127.0.0.2'],
      () => directory.classifySource('127.0.0.2', 'udp').kind === 'trunk',
    );
    await seen(['did', 'add', '+912240001234', '--trunk', 'pbx'], () => directory.accountOwns('acme', '+912240001234'));
    await seen(
      ['route', 'add', '+91', '--carrier', 'up'],
      () => directory.carriersFor('+912240001234')[0]?.name === 'up',
    );
    await seen(['did', 'rm', '+912240001234'], () => directory.did('+912240001234') === null);
  } finally {
    directory.stop();
    await store.close();
  }
  return took;
}

const pgProbe = await connectPostgres();
const pgSkip = typeof pgProbe === 'string' ? pgProbe : false;
if (typeof pgProbe !== 'string') await pgProbe.end();

describe('trunkline trunking commands', { concurrency: true }, () => {
  const schemas: string[] = [];
  after(async () => {
    if (schemas.length === 0) return;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    for (const s of schemas) await admin.query(`drop schema if exists ${s} cascade`);
    await admin.end();
  });
  async function pgSetup(): Promise<{ config: string; cwd: string; db: DatabaseConfig }> {
    const schema = `tl_clitrunk_${process.pid}_${randomBytes(3).toString('hex')}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    await admin.end();
    schemas.push(schema);
    return setup(schemaUrl(schema));
  }

  test('account, trunk, did, carrier, route and cdr commands against SQLite', async () => {
    const { config, cwd, db } = await setup();
    await flows(config, cwd, db);
  });

  test('the same against PostgreSQL', { skip: pgSkip }, async () => {
    const { config, cwd, db } = await pgSetup();
    await flows(config, cwd, db);
  });

  test('trunk ranges over a carrier gateway or every address: refused without --force; route explain --from-ip names the rule', async () => {
    const { config, cwd } = await setup();
    const cli = (args: string[]): Promise<RunResult> => run([...args, '--config', config], { cwd });
    ok(await cli(['account', 'add', 'acme']), 'account add');
    ok(await cli(['account', 'add', 'beta']), 'account add beta');
    ok(await cli(['carrier', 'add', 'upstream', '--gateway', 'sip:127.0.0.5:5080']), 'carrier add');
    ok(await cli(['trunk', 'add', 'pbx', '--account', 'acme', '--ip', '127.0.0.2']), 'trunk add pbx');
    ok(await cli(['did', 'add', '+912240001234', '--trunk', 'pbx']), 'did add');
    ok(await cli(['route', 'add', '+', '--carrier', 'upstream']), 'route add');
    failed(
      await cli(['trunk', 'add', 'beta', '--account', 'beta', '--ip', '127.0.0.0/29']),
      "ip: 127.0.0.0/29 holds 127.0.0.5, the address of carrier upstream's gateway sip:127.0.0.5:5080 (its requests stay the carrier's); --force adds it anyway",
      'a range over a carrier gateway',
    );
    failed(
      await cli(['trunk', 'add', 'beta', '--account', 'beta', '--ip', '0.0.0.0/0']),
      /^ip: 0\.0\.0\.0\/0 holds every address: requests from anywhere would be this trunk's; --force adds it anyway$/,
      'every address',
    );
    failed(await cli(['trunk', 'show', 'beta']), 'unknown trunk beta', 'nothing added');
    assert.equal(
      ok(
        await cli(['trunk', 'add', 'beta', '--account', 'beta', '--ip', '127.0.0.0/29', '--force']),
        'trunk add --force',
      ),
      'added trunk beta (account beta)\n',
    );
    // A carrier gateway inside a trunk range: accepted, with a note.
    const late = await cli(['carrier', 'add', 'late', '--gateway', 'sip:127.0.0.4,sip:127.0.1.1']);
    assert.equal(late.code, 0);
    assert.equal(late.stdout, 'added carrier late with 2 gateways\n');
    assert.equal(
      late.stderr,
      "note: gateway sip:127.0.0.4 is inside range 127.0.0.0/29 of trunk beta: requests from 127.0.0.4 are carrier late's (a carrier gateway comes before any trunk range)\n",
    );

    // route explain --from-ip: the rule that classified the source, then what the call meets.
    const explain = async (args: string[]): Promise<Record<string, unknown>> =>
      JSON.parse(ok(await cli(['route', 'explain', ...args, '--json']), args.join(' '))) as Record<string, unknown>;
    const fromCarrier = await explain(['+912240001234', '--from-ip', '127.0.0.5']);
    assert.deepEqual(fromCarrier['source'], {
      ip: '127.0.0.5',
      transport: 'udp',
      kind: 'carrier',
      carrier: 'upstream',
      gateway: 'sip:127.0.0.5:5080',
      rule: 'carrier upstream: 127.0.0.5 is the address of its gateway sip:127.0.0.5:5080 (a carrier gateway comes before any trunk range)',
    });
    assert.equal(fromCarrier['direction'], 'inbound');
    assert.deepEqual(fromCarrier['did'], { number: '+912240001234', trunk: 'pbx', account: 'acme' });
    assert.equal(fromCarrier['refused'], '480: Trunk not reachable (the trunk has no destination)');
    const fromRange = await explain(['+4930123456', '--from-ip', '127.0.0.3', '--transport', 'tcp']);
    assert.deepEqual(fromRange['source'], {
      ip: '127.0.0.3',
      transport: 'tcp',
      kind: 'trunk',
      trunk: 'beta',
      account: 'beta',
      cidr: '127.0.0.0/29',
      rule: 'trunk beta: 127.0.0.0/29 is the most specific trunk range holding 127.0.0.3 that allows tcp; no carrier gateway has this address',
    });
    assert.equal(fromRange['direction'], 'outbound');
    assert.equal(fromRange['route'], '+');
    assert.equal(fromRange['refused'], null);
    assert.equal(
      ((await explain(['+4930123456', '--from-ip', '127.0.0.2']))['source'] as { trunk: string }).trunk,
      'pbx',
      'the /32 before the /29',
    );
    const stranger = await explain(['+4930123456', '--from-ip', '127.0.0.9']);
    assert.equal((stranger['source'] as { kind: string }).kind, 'none');
    assert.match(String(stranger['refused']), /^403: Forbidden, unknown source/);
    const text = ok(
      await cli(['route', 'explain', '+912240001234', '--from-ip', '::ffff:127.0.0.5']),
      'route explain text',
    );
    assert.match(
      text,
      /^source\s+127\.0\.0\.5 over udp: carrier upstream: 127\.0\.0\.5 is the address of its gateway sip:127\.0\.0\.5:5080/m,
    );
    assert.match(text, /^did\s+\+912240001234 of trunk pbx$/m);
    assert.match(text, /^verdict\s+refused with 480/m);
    // The CONTRACT form still works; the two forms do not mix.
    assert.match(
      ok(await cli(['route', 'explain', '+4930123456', '--from', 'beta']), 'explain --from'),
      /^verdict\s+routed/m,
    );
    failed(
      await cli(['route', 'explain', '+1', '--from', 'beta', '--from-ip', '127.0.0.3']),
      /^from: route explain needs --from TRUNK or --from-ip IP$/,
      'both forms',
    );
    failed(
      await cli(['route', 'explain', '+1', '--from-ip', 'nowhere']),
      'from-ip: expected an IP address, got "nowhere"',
      'a bad address',
    );
    failed(
      await cli(['route', 'explain', '+1', '--from-ip', '127.0.0.3', '--transport', 'sctp']),
      /^transport: expected one of udp, tcp, tls/,
      'a bad transport',
    );
  });

  test('SQLite: a running directory sees each CLI change within 2 s', async (t) => {
    const { config, cwd, db } = await setup();
    t.diagnostic(`seen after ${(await reloadAfterCli(config, cwd, db)).join(', ')} ms`);
  });

  test('PostgreSQL: a running directory sees each CLI change within 2 s', { skip: pgSkip }, async (t) => {
    const { config, cwd, db } = await pgSetup();
    t.diagnostic(`seen after ${(await reloadAfterCli(config, cwd, db)).join(', ')} ms`);
  });

  test('--help lists the trunking groups and their commands; usage errors', async () => {
    const help = ok(await run(['--help']), '--help');
    for (const group of ['account', 'trunk', 'did', 'carrier', 'route', 'cdr']) {
      assert.match(help, new RegExp(`^\\s+${group}\\b`, 'm'), `--help lists ${group}`);
    }
    const trunk = ok(await run(['trunk', 'add', '--help']), 'trunk add --help');
    for (const o of [
      '--account',
      '--ip',
      '--register',
      '--transport',
      '--tls-fingerprint',
      '--dest',
      '--cpm',
      '--max-calls',
      '--media',
      '--codecs',
      '--force',
    ]) {
      assert.ok(trunk.includes(o), `trunk add --help has ${o}`);
    }
    const carrier = ok(await run(['carrier', 'add', '--help']), 'carrier add --help');
    for (const o of [
      '--gateway',
      '--username',
      '--password-stdin',
      '--register',
      '--prefix',
      '--no-plus',
      '--media',
      '--codecs',
    ]) {
      assert.ok(carrier.includes(o), `carrier add --help has ${o}`);
    }
    failed(
      await run(['trunk']),
      'trunk: missing command (add, set, rm, list, show); see trunkline trunk --help',
      'a group without a command',
      2,
    );
    failed(await run(['cdr', 'bogus']), /^cdr: unknown command "bogus" \(list, export\)/, 'an unknown command', 2);
  });
});
