import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { sipp, sippBackground, scenario, scenarioWith, haveCommand } from '../helpers/sipp.js';
import { openStore, type Store } from '../../src/store/index.js';

/**
 * Proxy authentication with real SIPp (RFC 3261 22.3): bob registers; alice
 * (a subscriber of the local domain, not registered) calls bob: INVITE, 407
 * with Proxy-Authenticate, ACK, INVITE with Proxy-Authorization (SIPp's
 * [authentication], MD5: the server offers `registrar.algorithms: MD5`),
 * through location to bob's SIPp UAS, answered, BYE. A wrong password and
 * an unknown user get 407 again and reach nobody; alice's credentials on a
 * request From carol get 403. (SIPp hashes the remote address as the
 * digest-uri unless told: -auth_uri names the Request-URI.)
 */
const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';
const DOMAIN = 'example.test';

let dir: string;
let store: Store;
let port: number;
let bobPort: number;
let server: RunningTrunkline | null = null;

before(async () => {
  if (skip !== false) return;
  dir = mkdtempSync(join(tmpdir(), 'proxy-auth-'));
  const dbFile = join(dir, 'trunkline.db');
  store = await openStore({ kind: 'sqlite', file: dbFile }, { env: {} });
  await store.domains.add(DOMAIN);
  await store.subscribers.add('alice', DOMAIN, 'alice-pw');
  await store.subscribers.add('bob', DOMAIN, 'bob-pw');
  await store.subscribers.add('carol', DOMAIN, 'carol-pw');
  port = await freePort();
  bobPort = await freePort();
  server = await startTrunkline(
    [
      `listen: [udp:127.0.0.1:${port}]`,
      `database: ${JSON.stringify(`sqlite:${dbFile}`)}`,
      'registrar: {algorithms: MD5}',
      'log: {level: debug}',
    ].join('\n'),
  );
  const reg = scenarioWith('registrar-register.xml', { domain: DOMAIN, expect: '200' });
  const r = await sipp({
    scenario: reg,
    target: `127.0.0.1:${port}`,
    localPort: bobPort,
    extra: ['-s', 'bob', '-au', 'bob', '-ap', 'bob-pw', '-auth_uri', DOMAIN],
  });
  assert.equal(r.code, 0, `bob's REGISTER failed:\n${r.stdout}\n${r.stderr}\n${server.output()}`);
});

after(async () => {
  if (skip !== false) return;
  await server?.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function refused(
  caller: string,
  user: string,
  password: string,
  expect: number,
  authUri = `bob@${DOMAIN}`,
): Promise<void> {
  const file = scenarioWith('proxy-auth-refused.xml', { domain: DOMAIN, caller, expect: String(expect) });
  const r = await sipp({
    scenario: file,
    target: `127.0.0.1:${port}`,
    localPort: await freePort(),
    extra: ['-s', 'bob', '-au', user, '-ap', password, '-auth_uri', authUri],
  });
  assert.equal(
    r.code,
    0,
    `INVITE From ${caller} with ${user}'s credentials expecting ${expect} failed:\n${r.stdout}\n${r.stderr}\n${server?.output() ?? ''}`,
  );
}

test(
  'alice calls bob: INVITE, 407, ACK, INVITE with Proxy-Authorization (MD5), through location to bob, answered, BYE',
  { skip },
  async () => {
    const uas = sippBackground(scenario('uas-call.xml'), bobPort, { timeoutS: 20 });
    let r: Awaited<ReturnType<typeof sipp>>;
    let u: Awaited<ReturnType<typeof uas.stop>>;
    try {
      await new Promise((res) => setTimeout(res, 300)); // let the UAS bind
      const file = scenarioWith('proxy-auth-call.xml', { domain: DOMAIN, caller: 'alice' });
      r = await sipp({
        scenario: file,
        target: `127.0.0.1:${port}`,
        localPort: await freePort(),
        extra: ['-s', 'bob', '-au', 'alice', '-ap', 'alice-pw', '-auth_uri', `bob@${DOMAIN}`],
      });
    } finally {
      u = await uas.stop();
    }
    assert.equal(r.code, 0, `alice's call failed:\n${r.stdout}\n${r.stderr}\n${server?.output() ?? ''}`);
    assert.equal(u.code, 0, `bob's UAS did not take the call:\n${u.stdout}\n${u.stderr}`);
  },
);

test(
  'a wrong password and an unknown user: 407 again; credentials of alice on a request From carol: 403',
  { skip },
  async () => {
    await refused('alice', 'alice', 'not-the-password', 407);
    await refused('alice', 'mallory', 'whatever', 407);
    await refused('carol', 'alice', 'alice-pw', 403);
  },
);

test(
  'a digest uri other than the Request-URI: 400, not a fresh challenge (RFC 2617 3.2.2.5), and the reason logged at info',
  { skip },
  async () => {
    // The right password, hashed over another URI: a new challenge would only be answered the same way again.
    await refused('alice', 'alice', 'alice-pw', 400, `bob@elsewhere.${DOMAIN}`);
    const reg = scenarioWith('registrar-register.xml', { domain: DOMAIN, expect: '400' });
    const r = await sipp({
      scenario: reg,
      target: `127.0.0.1:${port}`,
      localPort: await freePort(),
      extra: ['-s', 'carol', '-au', 'carol', '-ap', 'carol-pw', '-auth_uri', `elsewhere.${DOMAIN}`],
    });
    assert.equal(
      r.code,
      0,
      `carol's REGISTER over another digest uri did not get 400:\n${r.stdout}\n${r.stderr}\n${server?.output() ?? ''}`,
    );
    const logged = (server?.output() ?? '')
      .split('\n')
      .filter((l) => l.includes('"msg":"digest credentials refused with 400"'))
      .map((l) => JSON.parse(l) as { level: string; method: string; reason: string });
    assert.deepEqual(
      logged.map((l) => [l.level, l.method, l.reason]),
      [
        ['info', 'INVITE', 'digest uri does not match the Request-URI'],
        ['info', 'REGISTER', 'digest uri does not match the Request-URI'],
      ],
    );
  },
);
