import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { sipp, sippBackground, scenario, scenarioWith, haveCommand, type BackgroundSipp } from '../helpers/sipp.js';
import { openStore, type Store } from '../../src/store/index.js';

/**
 * The registrar and the location stage with real SIPp clients: SIPp users
 * register with digest (SIPp 3.6 computes only MD5, and answers only the
 * first challenge: the server offers MD5 alone through the config key
 * `registrar.algorithms`), then a call from one registered user to
 * another goes through location; the bindings survive a restart (the store
 * is a file in a directory of the test's own, passed as `database:`).
 */
const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';
const DOMAIN = 'example.test';

let dir: string;
let dbFile: string;
let store: Store;
let port: number;
let server: RunningTrunkline | null = null;
const alicePort = { n: 0 };
const bobPort = { n: 0 };

async function start(): Promise<void> {
  server = await startTrunkline([`listen: [udp:127.0.0.1:${port}]`, `database: ${JSON.stringify(`sqlite:${dbFile}`)}`, 'registrar: {algorithms: MD5}'].join('\n'));
}

before(async () => {
  if (skip !== false) return;
  dir = mkdtempSync(join(tmpdir(), 'registrar-interop-'));
  dbFile = join(dir, 'trunkline.db');
  store = await openStore({ kind: 'sqlite', file: dbFile }, { env: {} });
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
  if (skip !== false) return;
  await server?.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function register(user: string, password: string, localPort: number, expect: number): Promise<void> {
  const file = scenarioWith('registrar-register.xml', { domain: DOMAIN, expect: String(expect) });
  const r = await sipp({ scenario: file, target: `127.0.0.1:${port}`, localPort, extra: ['-s', user, '-au', user, '-ap', password, '-auth_uri', DOMAIN] });
  assert.equal(r.code, 0, `register ${user} (expect ${expect}) failed:\n${r.stdout}\n${r.stderr}\n${server?.output() ?? ''}`);
}

async function call(to: string): Promise<void> {
  const uas: BackgroundSipp = sippBackground(scenario('uas-call.xml'), bobPort.n, { timeoutS: 20 });
  // Let the UAS bind its port.
  await new Promise((r) => setTimeout(r, 300));
  const file = scenarioWith('registrar-uac-call.xml', { domain: DOMAIN });
  const r = await sipp({ scenario: file, target: `127.0.0.1:${port}`, localPort: alicePort.n, extra: ['-s', to] });
  const u = await uas.stop();
  assert.equal(r.code, 0, `call to ${to} failed:\n${r.stdout}\n${r.stderr}\n${server?.output() ?? ''}`);
  assert.equal(u.code, 0, `bob's UAS did not take the call:\n${u.stdout}\n${u.stderr}`);
}

test('REGISTER with a wrong password: 401 again, and no binding in the store', { skip }, async () => {
  await register('carol', 'not-her-password', await freePort(), 401);
  assert.deepEqual(await store.location.listForAor(`carol@${DOMAIN}`), []);
});

test('SIPp users register with MD5 digest: bindings in the store', { skip }, async () => {
  await register('alice', 'alice-pw', alicePort.n, 200);
  await register('bob', 'bob-pw', bobPort.n, 200);
  const [b] = await store.location.listForAor(`bob@${DOMAIN}`);
  assert.equal(b?.contact, `sip:bob@127.0.0.1:${bobPort.n}`);
  assert.equal(b?.received, null, 'the contact is the source address: no NAT');
});

test('a call from alice to sip:bob@domain goes to bob\'s registered contact (location)', { skip }, async () => {
  await call('bob');
});

test('a call to an alias reaches its subscriber; unknown user 404, registered-nowhere user 480', { skip }, async () => {
  await call('+15550200');
  for (const [user, code] of [['nobody', 404], ['carol', 480]] as const) {
    const file = scenarioWith('registrar-uac-expect.xml', { domain: DOMAIN, expect: String(code), mf: '70' });
    const r = await sipp({ scenario: file, target: `127.0.0.1:${port}`, localPort: await freePort(), extra: ['-s', user] });
    assert.equal(r.code, 0, `INVITE ${user} expecting ${code} failed:\n${r.stdout}\n${r.stderr}`);
  }
});

test('bindings survive a restart: stop, start on the same database, call again', { skip }, async () => {
  await server!.stop();
  server = null;
  await start();
  await call('bob');
});
