import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { sipp, sippBackground, scenario, scenarioWith, haveCommand, type BackgroundSipp } from '../helpers/sipp.js';
import { openStore, type Store } from '../../src/store/index.js';
import { connectPostgres, schemaUrl } from '../helpers/postgres.js';

/**
 * The registrar interop flow of registrar.test.ts on PostgreSQL: the server's
 * `database:` is DATABASE_URL_TEST or postgres://postgres@127.0.0.1:5432/test
 * with `?options=-c search_path=SCHEMA`, a random schema created here and
 * dropped afterwards (as test/store and test/cli do). SIPp users register
 * with MD5 digest (TRUNKLINE_DIGEST_ALGORITHMS=MD5 for SIPp 3.6), a call
 * from one registered user to another goes through location, and the
 * bindings survive a restart of the server on the same schema. Skipped, with
 * the reason, without SIPp or when PostgreSQL does not answer.
 */
const DOMAIN = 'example.test';


const sippSkip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';
const admin: pg.Client | string = sippSkip === false ? await connectPostgres() : sippSkip;
const skip: string | false = typeof admin === 'string' ? admin : false;

const schema = `tl_reg_${process.pid}_${randomBytes(3).toString('hex')}`;
let url: string;
let store: Store | null = null;
let port: number;
let server: RunningTrunkline | null = null;
const alicePort = { n: 0 };
const bobPort = { n: 0 };

async function start(): Promise<void> {
  server = await startTrunkline([`listen: [udp:127.0.0.1:${port}]`, `database: ${JSON.stringify(url)}`].join('\n'));
}

before(async () => {
  if (typeof admin === 'string') return;
  process.env.TRUNKLINE_DIGEST_ALGORITHMS = 'MD5';
  await admin.query(`create schema ${schema}`);
  url = schemaUrl(schema);
  store = await openStore({ kind: 'postgres', url }, { env: {} });
  await store.domains.add(DOMAIN);
  await store.subscribers.add('alice', DOMAIN, 'alice-pw');
  await store.subscribers.add('bob', DOMAIN, 'bob-pw');
  await store.subscribers.add('carol', DOMAIN, 'carol-pw');
  await store.aliases.add('+15550200', 'bob', DOMAIN);
  port = await freePort();
  alicePort.n = await freePort();
  bobPort.n = await freePort();
  await start();
});

after(async () => {
  if (typeof admin === 'string') return;
  try {
    await server?.stop();
  } finally {
    try {
      await store?.close();
    } finally {
      await admin.query(`drop schema if exists ${schema} cascade`);
      await admin.end();
    }
  }
});

async function register(user: string, password: string, localPort: number, expect: number): Promise<void> {
  const file = scenarioWith('registrar-register.xml', { domain: DOMAIN, expect: String(expect) });
  const r = await sipp({ scenario: file, target: `127.0.0.1:${port}`, localPort, extra: ['-s', user, '-au', user, '-ap', password, '-auth_uri', DOMAIN] });
  assert.equal(r.code, 0, `register ${user} (expect ${expect}) failed:\n${r.stdout}\n${r.stderr}\n${server?.output() ?? ''}`);
}

async function call(to: string): Promise<void> {
  const uas: BackgroundSipp = sippBackground(scenario('uas-call.xml'), bobPort.n, { timeoutS: 20 });
  let r: Awaited<ReturnType<typeof sipp>>;
  let u: Awaited<ReturnType<BackgroundSipp['stop']>>;
  try {
    // Let the UAS bind its port.
    await new Promise((res) => setTimeout(res, 300));
    const file = scenarioWith('registrar-uac-call.xml', { domain: DOMAIN });
    r = await sipp({ scenario: file, target: `127.0.0.1:${port}`, localPort: alicePort.n, extra: ['-s', to] });
  } finally {
    u = await uas.stop();
  }
  assert.equal(r.code, 0, `call to ${to} failed:\n${r.stdout}\n${r.stderr}\n${server?.output() ?? ''}`);
  assert.equal(u.code, 0, `bob's UAS did not take the call:\n${u.stdout}\n${u.stderr}`);
}

test('PostgreSQL: REGISTER with a wrong password: 401 again, and no binding in the store', { skip }, async () => {
  await register('carol', 'not-her-password', await freePort(), 401);
  assert.deepEqual(await store!.location.listForAor(`carol@${DOMAIN}`), []);
});

test('PostgreSQL: SIPp users register with MD5 digest: bindings in the schema', { skip }, async () => {
  await register('alice', 'alice-pw', alicePort.n, 200);
  await register('bob', 'bob-pw', bobPort.n, 200);
  const [b] = await store!.location.listForAor(`bob@${DOMAIN}`);
  assert.equal(b?.contact, `sip:bob@127.0.0.1:${bobPort.n}`);
  assert.equal(b?.received, null, 'the contact is the source address: no NAT');
  // The rows are in the test's schema, not in public.
  const rows = (await (admin as pg.Client).query(`select count(*)::int as n from ${schema}.location where aor = $1`, [`alice@${DOMAIN}`])).rows as Array<{ n: number }>;
  assert.equal(rows[0]?.n, 1);
});

test('PostgreSQL: a call from alice to sip:bob@domain goes to bob\'s registered contact (location)', { skip }, async () => {
  await call('bob');
});

test('PostgreSQL: a call to an alias reaches its subscriber; unknown user 404, registered-nowhere user 480', { skip }, async () => {
  await call('+15550200');
  for (const [user, code] of [['nobody', 404], ['carol', 480]] as const) {
    const file = scenarioWith('registrar-uac-expect.xml', { domain: DOMAIN, expect: String(code), mf: '70' });
    const r = await sipp({ scenario: file, target: `127.0.0.1:${port}`, localPort: await freePort(), extra: ['-s', user] });
    assert.equal(r.code, 0, `INVITE ${user} expecting ${code} failed:\n${r.stdout}\n${r.stderr}`);
  }
});

test('PostgreSQL: bindings survive a restart: stop, start on the same schema, call again', { skip }, async () => {
  await server!.stop();
  server = null;
  await start();
  assert.equal((await store!.location.listForAor(`bob@${DOMAIN}`)).length, 1);
  await call('bob');
});
