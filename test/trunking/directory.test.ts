/**
 * The in-memory TrunkingDirectory over a real store, on SQLite and
 * PostgreSQL: source classification (most specific CIDR first, transport
 * restrictions, carriers by gateway address, IP literal or resolved name,
 * before any trunk range),
 * registration trunks, DIDs (exact before prefix, longest prefix), the
 * caller-ID check, outbound routes (longest prefix, `+` default), and the
 * reload when another connection writes.
 */
import { test, describe, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { openStore, type Store } from '../../src/store/index.js';
import type { DatabaseConfig } from '../../src/config/schema.js';
import { StoreTrunkingDirectory, type DirectoryOptions } from '../../src/trunking/directory.js';
import { canonicalIp } from '../../src/trunking/snapshot.js';
import { type Backend, postgresBackend, postgresSkip, sqliteBackend } from '../helpers/backends.js';
import { elapsedUntil, waitFor } from '../helpers/wait.js';

/**
 * acme: trunk pbx (127.0.0.2/32, any transport), trunk net (10.0.0.0/8,
 * udp only), trunk net-tls (10.1.0.0/16, tls only), trunk v6 (2001:db8::/32),
 * trunk reg (registers as pbx@example.org). beta: trunk bpbx (10.1.2.3/32,
 * tcp only). Carriers up (127.0.0.5 and gw.test, resolving to 127.0.0.9),
 * cheap (127.0.0.2, a trunk's address too, and 2001:db8::7, inside trunk
 * v6). DIDs and routes as the tests say.
 */
async function seed(s: Store): Promise<void> {
  await s.accounts.add({ name: 'acme', cpm: 100 });
  await s.accounts.add({ name: 'beta' });
  await s.trunks.add({ name: 'pbx', account: 'acme', ip: ['127.0.0.2'] });
  await s.trunks.add({ name: 'net', account: 'acme', ip: ['10.0.0.0/8'], transport: 'udp' });
  await s.trunks.add({ name: 'net-tls', account: 'acme', ip: ['10.1.0.0/16'], transport: 'tls' });
  await s.trunks.add({ name: 'v6', account: 'acme', ip: ['2001:db8::/32'] });
  await s.trunks.add({ name: 'reg', account: 'acme', register: 'pbx@Example.org', dest: 'sip:pbx@192.0.2.1' });
  await s.trunks.add({ name: 'bpbx', account: 'beta', ip: ['10.1.2.3'], transport: 'tcp' });
  await s.carriers.add({
    name: 'up',
    gateways: ['sip:127.0.0.5:5080;transport=udp', 'sip:gw.test:5060'],
    username: 'u1',
    password: 'pw1',
  });
  await s.carriers.add({ name: 'cheap', gateways: ['sip:127.0.0.2:5090', 'sip:[2001:DB8:0:0::7]'] });
  await s.dids.add('+912240001234', 'pbx');
  await s.dids.add('+9122400012*', 'reg');
  await s.dids.add('+91224000*', 'bpbx');
  await s.dids.add('+14155550100', 'bpbx');
  await s.routes.add('+', ['up']);
  await s.routes.add('+91', ['cheap', 'up']);
  await s.routes.add('+9122', ['up', 'cheap']);
}

function suite(backend: Backend, skip: string | false): void {
  const name = (text: string): string => `${backend.name}: ${text}`;

  async function open(t: TestContext, cfg?: DatabaseConfig): Promise<{ store: Store; cfg: DatabaseConfig }> {
    const c = cfg ?? (await backend.fresh());
    const store = await openStore(c, { env: {} });
    t.after(() => store.close());
    return { store, cfg: c };
  }

  async function directory(
    t: TestContext,
    store: Store,
    opts: Partial<DirectoryOptions> = {},
  ): Promise<StoreTrunkingDirectory> {
    const d = new StoreTrunkingDirectory({
      store,
      resolve: async (host) => (host === 'gw.test' ? ['127.0.0.9'] : []),
      ...opts,
    });
    await d.start();
    t.after(() => d.stop());
    return d;
  }

  test(
    name('classifySource: most specific CIDR first, transport restrictions, carriers by address'),
    { skip },
    async (t) => {
      const { store } = await open(t);
      await seed(store);
      const d = await directory(t, store);
      const kind = (ip: string, proto: string): string => {
        const m = d.classifySource(ip, proto);
        return m.kind === 'trunk' || m.kind === 'wrong-transport'
          ? `${m.kind}:${m.trunk.name}:${m.account.name}`
          : m.kind === 'carrier'
            ? `carrier:${m.carrier.name}`
            : 'none';
      };
      // A trunk's /32 at a carrier gateway's address: equal length, the carrier gateway comes first.
      assert.equal(kind('127.0.0.2', 'udp'), 'carrier:cheap');
      assert.equal(kind('127.0.0.2', 'tls'), 'carrier:cheap');
      assert.equal(kind('::ffff:127.0.0.2', 'udp'), 'carrier:cheap', 'IPv4-mapped IPv6');
      // 10.1.2.3: bpbx (/32, tcp) before net-tls (/16, tls) before net (/8, udp).
      assert.equal(kind('10.1.2.3', 'tcp'), 'trunk:bpbx:beta');
      assert.equal(kind('10.1.2.3', 'tls'), 'trunk:net-tls:acme');
      assert.equal(kind('10.1.2.3', 'udp'), 'trunk:net:acme');
      assert.equal(kind('10.1.2.3', 'UDP'), 'trunk:net:acme');
      assert.equal(kind('10.1.2.3', 'ws'), 'wrong-transport:bpbx:beta', 'the most specific trunk is named');
      assert.equal(kind('10.1.9.9', 'udp'), 'trunk:net:acme');
      assert.equal(kind('10.1.9.9', 'tcp'), 'wrong-transport:net-tls:acme');
      assert.equal(kind('10.200.0.1', 'tls'), 'wrong-transport:net:acme');
      assert.equal(kind('2001:db8:1::5', 'tcp'), 'trunk:v6:acme');
      assert.equal(kind('[2001:0DB8::5]', 'udp'), 'trunk:v6:acme');
      // Carriers: by IP literal of a gateway (any port), by a resolved name, IPv6 written long.
      assert.equal(kind('127.0.0.5', 'udp'), 'carrier:up');
      assert.equal(kind('127.0.0.5', 'tcp'), 'carrier:up');
      assert.equal(kind('127.0.0.9', 'udp'), 'carrier:up');
      assert.equal(kind('2001:db8::7', 'udp'), 'carrier:cheap', 'a gateway inside a trunk range stays the carrier');
      assert.equal(kind('2001:db8::8', 'udp'), 'trunk:v6:acme');
      assert.equal(kind('127.0.0.3', 'udp'), 'none');
      assert.equal(kind('192.0.2.1', 'udp'), 'none');
      assert.equal(kind('not an address', 'udp'), 'none');
      assert.equal(kind('', 'udp'), 'none');
      assert.deepEqual(d.snapshot.carrierAddresses.get('up'), ['127.0.0.5', '127.0.0.9']);
      assert.deepEqual(d.snapshot.carrierAddresses.get('cheap'), ['127.0.0.2', '2001:db8::7']);
      // The carrier as the B2BUA needs it: with its password.
      const up = d.classifySource('127.0.0.5', 'udp');
      assert.ok(up.kind === 'carrier' && up.carrier.password === 'pw1' && up.carrier.username === 'u1');
      // ... which a log line never shows.
      assert.ok(
        up.kind === 'carrier' && !JSON.stringify(up).includes('pw1') && JSON.stringify(up).includes('"password":"***"'),
      );
      assert.ok(!JSON.stringify(d.carrier('up')).includes('pw1'));
    },
  );

  test(
    name('a carrier gateway keeps its address against a trunk at the same address, whatever the transport'),
    { skip },
    async (t) => {
      const { store } = await open(t);
      await store.accounts.add({ name: 'acme' });
      await store.trunks.add({ name: 'tls-only', account: 'acme', ip: ['127.0.0.2'], transport: 'tls' });
      await store.carriers.add({ name: 'up', gateways: ['sip:127.0.0.2:5080'] });
      const d = await directory(t, store);
      assert.equal(d.classifySource('127.0.0.2', 'tls').kind, 'carrier');
      assert.equal(d.classifySource('127.0.0.2', 'udp').kind, 'carrier');
      await store.carriers.rm('up');
      await d.reload();
      const m = d.classifySource('127.0.0.2', 'udp');
      assert.equal(m.kind, 'wrong-transport');
      assert.ok(m.kind === 'wrong-transport' && m.trunk.transport === 'tls');
    },
  );

  test(name('DIDs: exact before prefix, longest prefix wins, a prefix matches its own digits'), { skip }, async (t) => {
    const { store } = await open(t);
    await seed(store);
    const d = await directory(t, store);
    const did = (n: string): string | null => {
      const m = d.did(n);
      return m === null ? null : `${m.did.number}:${m.trunk.name}:${m.account.name}`;
    };
    assert.equal(did('+912240001234'), '+912240001234:pbx:acme', 'exact beats the prefixes covering it');
    assert.equal(did('+912240001235'), '+9122400012*:reg:acme', 'the longer prefix');
    assert.equal(did('+9122400012'), '+9122400012*:reg:acme', 'a prefix matches its own digits');
    assert.equal(did('+912240009999'), '+91224000*:bpbx:beta', 'the shorter prefix');
    assert.equal(did('+14155550100'), '+14155550100:bpbx:beta');
    assert.equal(did('+14155550101'), null);
    assert.equal(did('+9122'), null);
    assert.equal(did(''), null);
    // The caller-ID check: the DID's account owns the number.
    assert.equal(d.accountOwns('acme', '+912240001234'), true);
    assert.equal(d.accountOwns('acme', '+912240001299'), true);
    assert.equal(
      d.accountOwns('beta', '+912240001234'),
      false,
      "an exact DID of acme is not beta's, though beta's prefix covers it",
    );
    assert.equal(d.accountOwns('beta', '+912240005555'), true);
    assert.equal(d.accountOwns('acme', '+14155550100'), false);
    assert.equal(d.accountOwns('acme', '+33100000000'), false);
  });

  test(name('routes: the longest prefix wins, + is the default, carriers in order'), { skip }, async (t) => {
    const { store } = await open(t);
    await seed(store);
    const d = await directory(t, store);
    const route = (n: string): string[] => d.carriersFor(n).map((c) => c.name);
    assert.deepEqual(route('+912240001234'), ['up', 'cheap'], '+9122');
    assert.deepEqual(route('+9122'), ['up', 'cheap'], 'the prefix itself');
    assert.deepEqual(route('+913340001234'), ['cheap', 'up'], '+91');
    assert.deepEqual(route('+14155550100'), ['up'], 'the default route');
    assert.deepEqual(route('14155550100'), [], 'not E.164');
    await store.routes.rm('+');
    await d.reload();
    assert.deepEqual(route('+14155550100'), [], 'no default route');
    assert.deepEqual(route('+913340001234'), ['cheap', 'up']);
  });

  test(name('registration trunks, and lookups by name'), { skip }, async (t) => {
    const { store } = await open(t);
    await seed(store);
    const d = await directory(t, store);
    assert.equal(d.trunkByRegistration('pbx@example.org')?.trunk.name, 'reg');
    assert.equal(d.trunkByRegistration('sip:pbx@EXAMPLE.org')?.account.name, 'acme');
    assert.equal(d.trunkByRegistration('PBX@example.org'), null, 'user parts are case-sensitive');
    assert.equal(d.trunkByRegistration('other@example.org'), null);
    assert.equal(d.trunk('reg')?.dest, 'sip:pbx@192.0.2.1');
    assert.equal(d.trunk('ghost'), null);
    assert.equal(d.account('acme')?.cpm, 100);
    assert.equal(d.account('ghost'), null);
    assert.equal(d.carrier('up')?.password, 'pw1');
    assert.equal(d.carrier('ghost'), null);
  });

  test(name('another connection writes (as the CLI does): the directory reloads within 2 s'), { skip }, async (t) => {
    const { store, cfg } = await open(t);
    await seed(store);
    const d = await directory(t, store);
    const other = (await open(t, cfg)).store;
    const g0 = d.generation;
    await other.trunks.add({ name: 'late', account: 'beta', ip: ['127.0.0.77'] });
    const took = await elapsedUntil(() => d.classifySource('127.0.0.77', 'udp').kind === 'trunk', {
      timeoutMs: 2000,
      intervalMs: 20,
    });
    assert.ok(took >= 0, 'new trunk seen: not within 2000 ms');
    t.diagnostic(`new trunk seen after ${took} ms`);
    assert.ok(d.generation > g0);
    await other.dids.add('+33100000000', 'late');
    await waitFor(() => d.did('+33100000000')?.trunk.name === 'late', {
      timeoutMs: 2000,
      what: 'new DID seen',
      intervalMs: 20,
    });
    await other.routes.add('+33', ['cheap']);
    await waitFor(() => d.carriersFor('+33100000000')[0]?.name === 'cheap', {
      timeoutMs: 2000,
      what: 'new route seen',
      intervalMs: 20,
    });
    await other.trunks.rm('late', { cascade: true });
    await waitFor(() => d.classifySource('127.0.0.77', 'udp').kind === 'none' && d.did('+33100000000') === null, {
      timeoutMs: 2000,
      what: 'removal seen',
      intervalMs: 20,
    });
    // Nothing changed: no reload.
    await new Promise((r) => setTimeout(r, 1300));
    const g1 = d.generation;
    await new Promise((r) => setTimeout(r, 1300));
    assert.equal(d.generation, g1, 'no reload while nothing changes');
    // Stopped: no more reloads.
    d.stop();
    await other.accounts.add({ name: 'gamma' });
    await new Promise((r) => setTimeout(r, 1300));
    assert.equal(d.account('gamma'), null);
    await d.reload();
    assert.equal(d.account('gamma')?.name, 'gamma');
  });

  test(
    name('a gateway name that does not resolve: the carrier stays, recognised by its other addresses'),
    { skip },
    async (t) => {
      const { store } = await open(t);
      await store.carriers.add({ name: 'up', gateways: ['sip:nowhere.invalid', 'sip:127.0.0.5'] });
      await store.carriers.add({ name: 'slow', gateways: ['sip:slow.test'] });
      const d = await directory(t, store, {
        resolve: (host) =>
          host === 'slow.test'
            ? new Promise<string[]>(() => undefined)
            : Promise.reject(new Error(`${host}: ENOTFOUND`)),
        resolveTimeoutMs: 100,
      });
      assert.equal(d.carrier('up')?.gateways.length, 2);
      assert.equal(d.classifySource('127.0.0.5', 'udp').kind, 'carrier');
      assert.deepEqual(d.snapshot.carrierAddresses.get('slow'), []);
      assert.equal(d.carrier('slow')?.name, 'slow');
    },
  );

  test(name('node:dns resolves a gateway name (localhost) by default'), { skip }, async (t) => {
    const { store } = await open(t);
    await store.carriers.add({ name: 'local', gateways: ['sip:localhost:5080'] });
    const d = new StoreTrunkingDirectory({ store });
    await d.start();
    t.after(() => d.stop());
    const addrs = d.snapshot.carrierAddresses.get('local') ?? [];
    assert.ok(addrs.includes('127.0.0.1') || addrs.includes('::1'), `localhost resolved to ${addrs.join(',')}`);
    assert.equal(d.classifySource(addrs[0]!, 'udp').kind, 'carrier');
  });
}

test('canonicalIp', () => {
  assert.equal(canonicalIp('127.0.0.1'), '127.0.0.1');
  assert.equal(canonicalIp('::FFFF:127.0.0.1'), '127.0.0.1');
  assert.equal(canonicalIp('[2001:DB8:0:0:0:0:0:1]'), '2001:db8::1');
  assert.equal(canonicalIp('::ffff:7f00:1'), '127.0.0.1');
  assert.equal(canonicalIp('example.org'), '');
});

describe('trunking directory', () => {
  const sqlite = sqliteBackend('trunking');
  after(() => sqlite.cleanup());
  suite(sqlite, false);
});

const pgSkip = await postgresSkip();

describe('trunking directory on PostgreSQL', () => {
  const pg = postgresBackend('trunking');
  after(() => pg.cleanup());
  suite(pg, pgSkip);
});
