import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from './ports.js';
import { startTrunkline, type RunningTrunkline } from './server.js';
import { sipp, sippBackground, scenario, scenarioWith, type BackgroundSipp } from './sipp.js';
import { openStore, type Store } from '../../src/store/index.js';
import type { DatabaseConfig } from '../../src/config/schema.js';

/** A database the registrar suite runs on: made before the suite, removed after it. */
export interface RegistrarBackend {
  /** Prefix of the test names ("PostgreSQL: ..."), '' for the default. */
  label: string;
  /** false, or why the suite is skipped. */
  skip: string | false;
  /** Makes the database; returns the server's `database:` value and the same as a DatabaseConfig. */
  prepare(): Promise<{ database: string; config: DatabaseConfig }>;
  cleanup(): Promise<void>;
  /** Extra checks once alice and bob are registered (e.g. the rows are in the test's schema). */
  afterRegister?(store: Store): Promise<void>;
}

const DOMAIN = 'example.test';

/**
 * The registrar and the location stage with real SIPp clients, the same
 * flow on every database: SIPp users register with digest (SIPp 3.6
 * computes only MD5 and answers only the first challenge: the server offers
 * MD5 alone through `registrar.algorithms`), a wrong password writes no
 * binding, a call from one registered user to another (and to an alias)
 * goes through location, 404 and 480 for unknown and unregistered users,
 * and the bindings survive a restart of the server on the same database.
 */
export function registrarSuite(backend: RegistrarBackend): void {
  const skip = backend.skip;
  const name = (text: string): string => (backend.label === '' ? text : `${backend.label}: ${text}`);
  let database = '';
  let store: Store | null = null;
  let port = 0;
  let server: RunningTrunkline | null = null;
  let alicePort = 0;
  let bobPort = 0;

  async function start(): Promise<void> {
    server = await startTrunkline(
      [`listen: [udp:127.0.0.1:${port}]`, `database: ${JSON.stringify(database)}`, 'registrar: {algorithms: MD5}'].join(
        '\n',
      ),
    );
  }

  before(async () => {
    if (skip !== false) return;
    const db = await backend.prepare();
    database = db.database;
    store = await openStore(db.config, { env: {} });
    await store.domains.add(DOMAIN);
    await store.subscribers.add('alice', DOMAIN, 'alice-pw');
    await store.subscribers.add('bob', DOMAIN, 'bob-pw');
    await store.subscribers.add('carol', DOMAIN, 'carol-pw');
    await store.aliases.add('+15550200', 'bob', DOMAIN);
    port = await freePort();
    alicePort = await freePort();
    bobPort = await freePort();
    await start();
  });

  after(async () => {
    if (skip !== false) return;
    try {
      await server?.stop();
    } finally {
      try {
        await store?.close();
      } finally {
        await backend.cleanup();
      }
    }
  });

  async function register(user: string, password: string, localPort: number, expect: number): Promise<void> {
    const file = scenarioWith('registrar-register.xml', { domain: DOMAIN, expect: String(expect) });
    const r = await sipp({
      scenario: file,
      target: `127.0.0.1:${port}`,
      localPort,
      extra: ['-s', user, '-au', user, '-ap', password, '-auth_uri', DOMAIN],
    });
    assert.equal(
      r.code,
      0,
      `register ${user} (expect ${expect}) failed:\n${r.stdout}\n${r.stderr}\n${server?.output() ?? ''}`,
    );
  }

  async function call(to: string): Promise<void> {
    const uas: BackgroundSipp = sippBackground(scenario('uas-call.xml'), bobPort, { timeoutS: 20 });
    let r: Awaited<ReturnType<typeof sipp>>;
    let u: Awaited<ReturnType<BackgroundSipp['stop']>>;
    try {
      // Let the UAS bind its port.
      await new Promise((res) => setTimeout(res, 300));
      const file = scenarioWith('registrar-uac-call.xml', { domain: DOMAIN });
      r = await sipp({ scenario: file, target: `127.0.0.1:${port}`, localPort: alicePort, extra: ['-s', to] });
    } finally {
      u = await uas.stop();
    }
    assert.equal(r.code, 0, `call to ${to} failed:\n${r.stdout}\n${r.stderr}\n${server?.output() ?? ''}`);
    assert.equal(u.code, 0, `bob's UAS did not take the call:\n${u.stdout}\n${u.stderr}`);
  }

  test(name('REGISTER with a wrong password: 401 again, and no binding in the store'), { skip }, async () => {
    await register('carol', 'not-her-password', await freePort(), 401);
    assert.deepEqual(await store!.location.listForAor(`carol@${DOMAIN}`), []);
  });

  test(name('SIPp users register with MD5 digest: bindings in the store'), { skip }, async () => {
    await register('alice', 'alice-pw', alicePort, 200);
    await register('bob', 'bob-pw', bobPort, 200);
    const [b] = await store!.location.listForAor(`bob@${DOMAIN}`);
    assert.equal(b?.contact, `sip:bob@127.0.0.1:${bobPort}`);
    assert.equal(b?.received, null, 'the contact is the source address: no NAT');
    await backend.afterRegister?.(store!);
  });

  test(name("a call from alice to sip:bob@domain goes to bob's registered contact (location)"), { skip }, async () => {
    await call('bob');
  });

  test(
    name('a call to an alias reaches its subscriber; unknown user 404, registered-nowhere user 480'),
    { skip },
    async () => {
      await call('+15550200');
      for (const [user, code] of [
        ['nobody', 404],
        ['carol', 480],
      ] as const) {
        const file = scenarioWith('registrar-uac-expect.xml', { domain: DOMAIN, expect: String(code), mf: '70' });
        const r = await sipp({
          scenario: file,
          target: `127.0.0.1:${port}`,
          localPort: await freePort(),
          extra: ['-s', user],
        });
        assert.equal(r.code, 0, `INVITE ${user} expecting ${code} failed:\n${r.stdout}\n${r.stderr}`);
      }
    },
  );

  test(name('bindings survive a restart: stop, start on the same database, call again'), { skip }, async () => {
    await server!.stop();
    server = null;
    await start();
    assert.equal((await store!.location.listForAor(`bob@${DOMAIN}`)).length, 1);
    await call('bob');
  });
}
