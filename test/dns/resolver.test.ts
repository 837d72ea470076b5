import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DnsLookupError, SipLocator, type LocatorOptions, type SipTarget } from '../../src/dns/resolver.js';
import { orderSrv } from '../../src/dns/srv.js';
import { parseSipUri } from '../../src/sip/uri.js';
import { FakeDnsServer, ipv6Bytes, type Zone } from './fake-dns-server.js';
import { prng as seeded } from '../helpers/prng.js';

type TestContext = { after(fn: () => unknown): void };

async function setup(
  t: TestContext,
  zone: Zone,
  opts: LocatorOptions = {},
): Promise<{ dns: FakeDnsServer; loc: SipLocator }> {
  const dns = await FakeDnsServer.start(zone);
  t.after(() => dns.close());
  const loc = new SipLocator({ servers: [dns.server], timeoutMs: 500, tries: 1, random: seeded(1), ...opts });
  return { dns, loc };
}

const uri = parseSipUri;

function brief(targets: SipTarget[]): string[] {
  return targets.map((x) => `${x.proto} ${x.host} ${x.port}`);
}

async function rejectsWith(p: Promise<unknown>, code: string, name?: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof DnsLookupError, `DnsLookupError expected, got ${String(err)}`);
    assert.equal(err.code, code);
    if (name !== undefined) assert.equal(err.name_, name);
    assert.equal(err.name, 'DnsLookupError');
    return true;
  });
}

// A domain with the full RFC 3263 chain: NAPTR → SRV → A/AAAA.
const CHAIN: Zone = {
  'example.test': {
    NAPTR: [
      // Listed out of order on purpose; order 10 wins, then preference.
      { order: 10, preference: 30, flags: 'S', service: 'SIP+D2U', regexp: '', replacement: '_sip._udp.example.test' },
      { order: 20, preference: 1, flags: 'S', service: 'SIP+D2T', regexp: '', replacement: '_sip._tcp.other.test' },
      {
        order: 10,
        preference: 10,
        flags: 'S',
        service: 'SIPS+D2T',
        regexp: '',
        replacement: '_sips._tcp.example.test',
      },
      { order: 10, preference: 20, flags: 's', service: 'SIP+D2T', regexp: '', replacement: '_sip._tcp.example.test' },
      { order: 10, preference: 5, flags: 'S', service: 'SIP+D2S', regexp: '', replacement: '_sip._sctp.example.test' },
      {
        order: 10,
        preference: 6,
        flags: 'u',
        service: 'E2U+sip',
        regexp: '!^.*$!sip:info@example.test!',
        replacement: '',
      },
    ],
    A: ['192.0.2.250'],
  },
  '_sips._tcp.example.test': { SRV: [{ priority: 10, weight: 0, port: 5061, target: 'tls1.example.test' }] },
  '_sip._tcp.example.test': { SRV: [{ priority: 10, weight: 0, port: 5060, target: 'tcp1.example.test' }] },
  '_sip._udp.example.test': { SRV: [{ priority: 10, weight: 0, port: 5070, target: 'udp1.example.test' }] },
  '_sip._tcp.other.test': { SRV: [{ priority: 10, weight: 0, port: 5060, target: 'tcp1.example.test' }] },
  'tls1.example.test': { A: ['192.0.2.1'], AAAA: ['2001:db8::1'] },
  'tcp1.example.test': { A: ['192.0.2.2', '192.0.2.3'] },
  'udp1.example.test': { AAAA: ['2001:db8::3'] },
};

test('IPv4 literal: no DNS; UDP 5060, TLS 5061 for sips, port and transport taken as given', async (t) => {
  const { dns, loc } = await setup(t, {});
  assert.deepEqual(await loc.locate(uri('sip:alice@192.0.2.10')), [
    { proto: 'udp', host: '192.0.2.10', port: 5060, name: '192.0.2.10' },
  ]);
  assert.deepEqual(brief(await loc.locate(uri('sips:192.0.2.10'))), ['tls 192.0.2.10 5061']);
  assert.deepEqual(brief(await loc.locate(uri('sip:192.0.2.10:5070;transport=TCP'))), ['tcp 192.0.2.10 5070']);
  assert.deepEqual(brief(await loc.locate(uri('sip:192.0.2.10;transport=tls'))), ['tls 192.0.2.10 5061']);
  assert.equal(dns.queries.length, 0);
});

test('IPv6 literal: brackets stripped from host and name', async (t) => {
  const { dns, loc } = await setup(t, {});
  assert.deepEqual(await loc.locate(uri('sip:[2001:DB8::1]:5080')), [
    { proto: 'udp', host: '2001:db8::1', port: 5080, name: '2001:db8::1' },
  ]);
  assert.deepEqual(brief(await loc.locate(uri('sips:bob@[::1]'))), ['tls ::1 5061']);
  assert.equal(dns.queries.length, 0);
});

test('explicit port: A/AAAA only (no NAPTR, no SRV), UDP (TLS for sips), IPv4 before IPv6', async (t) => {
  const { dns, loc } = await setup(t, CHAIN);
  assert.deepEqual(await loc.locate(uri('sip:tls1.example.test:5090')), [
    { proto: 'udp', host: '192.0.2.1', port: 5090, name: 'tls1.example.test' },
    { proto: 'udp', host: '2001:db8::1', port: 5090, name: 'tls1.example.test' },
  ]);
  assert.deepEqual(brief(await loc.locate(uri('sips:example.test:5999'))), ['tls 192.0.2.250 5999']);
  assert.equal(dns.queries.filter((q) => q.type === 'NAPTR' || q.type === 'SRV').length, 0);
});

test('transport parameter: SRV for that transport only, _sips for TLS, A/AAAA fallback at the default port', async (t) => {
  const { dns, loc } = await setup(t, CHAIN);
  assert.deepEqual(brief(await loc.locate(uri('sip:example.test;transport=tcp'))), [
    'tcp 192.0.2.2 5060',
    'tcp 192.0.2.3 5060',
  ]);
  assert.deepEqual(brief(await loc.locate(uri('sip:example.test;transport=tls'))), [
    'tls 192.0.2.1 5061',
    'tls 2001:db8::1 5061',
  ]);
  // sips + transport=tcp means TLS over TCP (RFC 3261 26.2.2).
  assert.deepEqual(brief(await loc.locate(uri('sips:example.test;transport=tcp'))), [
    'tls 192.0.2.1 5061',
    'tls 2001:db8::1 5061',
  ]);
  assert.equal(dns.count('example.test', 'NAPTR'), 0, 'no NAPTR when the transport is given');
  // No SRV for that transport: A/AAAA of the domain.
  assert.deepEqual(brief(await loc.locate(uri('sip:tcp1.example.test;transport=udp'))), [
    'udp 192.0.2.2 5060',
    'udp 192.0.2.3 5060',
  ]);
  assert.equal(dns.count('_sip._udp.tcp1.example.test', 'SRV'), 1);
  // Explicit port + transport: no SRV.
  assert.deepEqual(brief(await loc.locate(uri('sip:tcp1.example.test:5071;transport=tcp'))), [
    'tcp 192.0.2.2 5071',
    'tcp 192.0.2.3 5071',
  ]);
  assert.equal(dns.count('_sip._tcp.tcp1.example.test', 'SRV'), 0);
});

test('transport parameter we cannot use: ETRANSPORT', async (t) => {
  const { loc } = await setup(t, CHAIN);
  await rejectsWith(loc.locate(uri('sip:example.test;transport=sctp')), 'ETRANSPORT');
  await rejectsWith(loc.locate(uri('sips:example.test;transport=udp')), 'ETRANSPORT');
  await rejectsWith(loc.locate(uri('sip:192.0.2.1;transport=ws')), 'ETRANSPORT', '192.0.2.1');
  const udpOnly = new SipLocator({ supportedTransports: ['udp'] });
  await rejectsWith(udpOnly.locate(uri('sips:192.0.2.1')), 'ETRANSPORT');
  const wsToo = new SipLocator({ supportedTransports: ['udp', 'ws', 'wss'] });
  assert.deepEqual(brief(await wsToo.locate(uri('sips:192.0.2.1;transport=ws'))), ['wss 192.0.2.1 5061']);
});

test('NAPTR → SRV → A/AAAA: lowest order, then preference; unsupported and non-SIP services skipped', async (t) => {
  const { dns, loc } = await setup(t, CHAIN);
  const targets = await loc.locate(uri('sip:carol@Example.Test'));
  assert.deepEqual(brief(targets), [
    'tls 192.0.2.1 5061',
    'tls 2001:db8::1 5061',
    'tcp 192.0.2.2 5060',
    'tcp 192.0.2.3 5060',
    'udp 2001:db8::3 5070',
  ]);
  assert.ok(
    targets.every((x) => x.name === 'example.test'),
    'name is the SIP domain, not the SRV target (RFC 5922)',
  );
  assert.equal(dns.count('_sip._tcp.other.test'), 0, 'order 20 not used once order 10 matched');
  assert.equal(dns.count('_sip._sctp.example.test'), 0);
  assert.equal(dns.count('_sip._udp.example.test', 'SRV'), 1);
  assert.equal(dns.count('example.test', 'A'), 0, 'no A/AAAA of the domain when SRV records exist');

  const udpOnly = new SipLocator({ servers: [dns.server], supportedTransports: ['udp'] });
  assert.deepEqual(brief(await udpOnly.locate(uri('sip:example.test'))), ['udp 2001:db8::3 5070']);
});

test('sips: only SIPS NAPTR services, only _sips._tcp without NAPTR', async (t) => {
  const { dns, loc } = await setup(t, {
    ...CHAIN,
    'plain.test': { A: ['192.0.2.40'] },
    '_sips._tcp.plain.test': { SRV: [{ priority: 1, weight: 1, port: 5062, target: 'tls1.example.test' }] },
    '_sip._udp.plain.test': { SRV: [{ priority: 1, weight: 1, port: 5060, target: 'udp1.example.test' }] },
  });
  assert.deepEqual(brief(await loc.locate(uri('sips:example.test'))), ['tls 192.0.2.1 5061', 'tls 2001:db8::1 5061']);
  assert.deepEqual(brief(await loc.locate(uri('sips:plain.test'))), ['tls 192.0.2.1 5062', 'tls 2001:db8::1 5062']);
  assert.equal(dns.count('_sip._udp.plain.test'), 0);
  assert.equal(dns.count('_sip._tcp.plain.test'), 0);
  // No NAPTR, no SRV: A/AAAA with TLS at 5061.
  assert.deepEqual(brief(await loc.locate(uri('sips:tcp1.example.test'))), [
    'tls 192.0.2.2 5061',
    'tls 192.0.2.3 5061',
  ]);
});

test('no NAPTR: SRV queried for each transport, _sips._tcp then _sip._tcp then _sip._udp', async (t) => {
  const { dns, loc } = await setup(t, {
    'srv.test': { A: ['192.0.2.99'] },
    '_sip._udp.srv.test': { SRV: [{ priority: 1, weight: 0, port: 5060, target: 'u.srv.test' }] },
    '_sip._tcp.srv.test': { SRV: [{ priority: 1, weight: 0, port: 5065, target: 't.srv.test' }] },
    'u.srv.test': { A: ['192.0.2.21'] },
    't.srv.test': { A: ['192.0.2.22'], AAAA: ['2001:db8::22'] },
  });
  assert.deepEqual(brief(await loc.locate(uri('sip:srv.test'))), [
    'tcp 192.0.2.22 5065',
    'tcp 2001:db8::22 5065',
    'udp 192.0.2.21 5060',
  ]);
  assert.equal(dns.count('srv.test', 'NAPTR'), 1);
  assert.equal(dns.count('_sips._tcp.srv.test', 'SRV'), 1);
  assert.equal(dns.count('srv.test', 'A'), 0);
});

test('NAPTR records that are all unusable count as no NAPTR', async (t) => {
  const { loc } = await setup(t, {
    'odd.test': {
      NAPTR: [
        { order: 1, preference: 1, flags: 'S', service: 'SIP+D2S', regexp: '', replacement: '_sip._sctp.odd.test' },
      ],
    },
    '_sip._udp.odd.test': { SRV: [{ priority: 1, weight: 0, port: 5060, target: 'h.odd.test' }] },
    'h.odd.test': { A: ['192.0.2.70'] },
  });
  assert.deepEqual(brief(await loc.locate(uri('sip:odd.test'))), ['udp 192.0.2.70 5060']);
});

test('NAPTR whose SRV names do not exist: A/AAAA of the domain with the NAPTR transport', async (t) => {
  const { loc } = await setup(t, {
    'nsrv.test': {
      NAPTR: [
        { order: 1, preference: 1, flags: 'S', service: 'SIP+D2T', regexp: '', replacement: '_sip._tcp.nsrv.test' },
      ],
      A: ['192.0.2.80'],
    },
  });
  assert.deepEqual(brief(await loc.locate(uri('sip:nsrv.test'))), ['tcp 192.0.2.80 5060']);
});

test('SRV priority and weight through the locator: priorities in order, weights by proportion', async (t) => {
  const { loc } = await setup(t, {
    'w.test': {},
    '_sip._udp.w.test': {
      SRV: [
        { priority: 20, weight: 100, port: 5060, target: 'backup.w.test' },
        { priority: 10, weight: 1, port: 5060, target: 'light.w.test' },
        { priority: 10, weight: 3, port: 5060, target: 'heavy.w.test' },
      ],
    },
    'backup.w.test': { A: ['192.0.2.30'] },
    'light.w.test': { A: ['192.0.2.31'] },
    'heavy.w.test': { A: ['192.0.2.32'] },
  });
  const firsts = new Map<string, number>();
  const runs = 2000;
  for (let i = 0; i < runs; i++) {
    const hosts = (await loc.locate(uri('sip:w.test;transport=udp'))).map((x) => x.host);
    assert.equal(hosts.length, 3);
    assert.equal(hosts[2], '192.0.2.30', 'priority 20 only after every priority 10 target');
    firsts.set(hosts[0]!, (firsts.get(hosts[0]!) ?? 0) + 1);
  }
  const heavy = (firsts.get('192.0.2.32') ?? 0) / runs;
  assert.ok(Math.abs(heavy - 0.75) < 0.04, `weight 3 of 4 first ${heavy}`);
});

test('orderSrv: RFC 2782 weighted selection, seeded, within tolerance', () => {
  const random = seeded(42);
  const recs = [
    { id: 'a', priority: 1, weight: 10 },
    { id: 'b', priority: 1, weight: 30 },
    { id: 'c', priority: 1, weight: 60 },
    { id: 'z', priority: 0, weight: 0 },
    { id: 'p2', priority: 2, weight: 50 },
  ];
  const firsts: Record<string, number> = { a: 0, b: 0, c: 0 };
  const n = 20_000;
  for (let i = 0; i < n; i++) {
    const order = orderSrv(recs, random).map((r) => r.id);
    assert.equal(order[0], 'z', 'priority 0 first');
    assert.equal(order[4], 'p2', 'priority 2 last');
    assert.deepEqual([...order.slice(1, 4)].sort(), ['a', 'b', 'c']);
    firsts[order[1]!]!++;
  }
  for (const [id, expected] of [
    ['a', 0.1],
    ['b', 0.3],
    ['c', 0.6],
  ] as const) {
    const got = firsts[id]! / n;
    assert.ok(Math.abs(got - expected) < 0.02, `${id}: ${got} vs ${expected}`);
  }
  // Weight 0 next to weight 100: a small chance (1 in 101) to come first, not none.
  const zeroFirst = Array.from(
    { length: n },
    () =>
      orderSrv(
        [
          { id: 'z', priority: 1, weight: 0 },
          { id: 'h', priority: 1, weight: 100 },
        ],
        random,
      )[0]!.id,
  ).filter((id) => id === 'z').length;
  assert.ok(zeroFirst > 0 && zeroFirst / n < 0.03, `weight 0 first ${zeroFirst}/${n}`);
  // All weights 0: uniform.
  const counts = [0, 0, 0];
  for (let i = 0; i < 3000; i++)
    counts[
      orderSrv(
        [0, 1, 2].map((id) => ({ id, priority: 1, weight: 0 })),
        random,
      )[0]!.id
    ]!++;
  for (const c of counts) assert.ok(Math.abs(c / 3000 - 1 / 3) < 0.04, `uniform ${counts.join(',')}`);
  assert.deepEqual(
    recs.map((r) => r.id),
    ['a', 'b', 'c', 'z', 'p2'],
    'input untouched',
  );
});

test('SRV target "." means not available: no targets and no A/AAAA fallback', async (t) => {
  const { dns, loc } = await setup(t, {
    'dot.test': { A: ['192.0.2.60'] },
    '_sip._udp.dot.test': { SRV: [{ priority: 0, weight: 0, port: 0, target: '.' }] },
  });
  await rejectsWith(loc.locate(uri('sip:dot.test;transport=udp')), 'ENOTFOUND', 'dot.test');
  assert.equal(dns.count('dot.test', 'A'), 0);
});

test('A-only domain: UDP 5060 for sip, TLS 5061 for sips, IPv4 then IPv6', async (t) => {
  const { loc } = await setup(t, { 'a.test': { A: ['192.0.2.5', '192.0.2.6'], AAAA: ['2001:db8::5'] } });
  assert.deepEqual(brief(await loc.locate(uri('sip:a.test'))), [
    'udp 192.0.2.5 5060',
    'udp 192.0.2.6 5060',
    'udp 2001:db8::5 5060',
  ]);
  assert.deepEqual(brief(await loc.locate(uri('sips:a.test.'))), [
    'tls 192.0.2.5 5061',
    'tls 192.0.2.6 5061',
    'tls 2001:db8::5 5061',
  ]);
});

test('maddr is the TARGET; name stays the URI host', async (t) => {
  const { loc } = await setup(t, CHAIN);
  assert.deepEqual(await loc.locate(uri('sip:example.test;maddr=192.0.2.77')), [
    { proto: 'udp', host: '192.0.2.77', port: 5060, name: 'example.test' },
  ]);
  assert.deepEqual(brief(await loc.locate(uri('sip:example.test:5080;maddr=[2001:db8::9]'))), ['udp 2001:db8::9 5080']);
  assert.deepEqual(brief(await loc.locate(uri('sip:192.0.2.1;maddr=tcp1.example.test;transport=tcp'))), [
    'tcp 192.0.2.2 5060',
    'tcp 192.0.2.3 5060',
  ]);
  await rejectsWith(loc.locate(uri('sip:example.test;maddr=[nonsense]')), 'EBADNAME');
});

test('NXDOMAIN everywhere: DnsLookupError ENOTFOUND', async (t) => {
  const { dns, loc } = await setup(t, {});
  await rejectsWith(loc.locate(uri('sip:nowhere.test')), 'ENOTFOUND', 'nowhere.test');
  // NAPTR, three SRV, A, AAAA.
  assert.equal(dns.queries.length, 6);
  await rejectsWith(loc.locate(uri('sip:nowhere.test:5060')), 'ENOTFOUND');
});

test('a timeout is reported as such and not cached', async (t) => {
  const { dns, loc } = await setup(t, {}, { timeoutMs: 100 });
  dns.silent.add('quiet.test');
  await rejectsWith(loc.locate(uri('sip:quiet.test:5060')), 'ETIMEOUT', 'quiet.test');
  await rejectsWith(loc.locate(uri('sip:quiet.test:5060')), 'ETIMEOUT');
  assert.equal(dns.count('quiet.test', 'A'), 2);
});

test('TTL: a cache hit sends nothing, expiry re-queries; SRV/NAPTR use defaultTtlS', async (t) => {
  let clock = 1_000_000;
  const { dns, loc } = await setup(
    t,
    {
      'ttl.test': { ttl: 60, A: ['192.0.2.7'] },
      '_sip._udp.ttl.test': { SRV: [{ priority: 1, weight: 0, port: 5060, target: 'ttl.test' }] },
    },
    { now: () => clock, defaultTtlS: 300, negativeTtlS: 1000 },
  );
  const u = uri('sip:ttl.test:5060');
  assert.deepEqual(brief(await loc.locate(u)), ['udp 192.0.2.7 5060']);
  clock += 59_000;
  assert.deepEqual(brief(await loc.locate(u)), ['udp 192.0.2.7 5060']);
  assert.equal(dns.count('ttl.test', 'A'), 1, 'cache hit within the TTL');

  dns.setZone({
    'ttl.test': { ttl: 60, A: ['192.0.2.8'] },
    '_sip._udp.ttl.test': { SRV: [{ priority: 1, weight: 0, port: 5080, target: 'ttl.test' }] },
  });
  clock += 2_000;
  assert.deepEqual(brief(await loc.locate(u)), ['udp 192.0.2.8 5060'], 'new answer after expiry');
  assert.equal(dns.count('ttl.test', 'A'), 2);

  const s = uri('sip:ttl.test;transport=udp');
  assert.deepEqual(brief(await loc.locate(s)), ['udp 192.0.2.8 5080']);
  clock += 299_000;
  await loc.locate(s);
  assert.equal(dns.count('_sip._udp.ttl.test', 'SRV'), 1);
  clock += 2_000;
  await loc.locate(s);
  assert.equal(dns.count('_sip._udp.ttl.test', 'SRV'), 2, 'SRV re-queried after defaultTtlS');
});

test('negative answers are cached for negativeTtlS', async (t) => {
  let clock = 0;
  const { dns, loc } = await setup(t, { 'nodata.test': { NAPTR: [] } }, { now: () => clock, negativeTtlS: 30 });
  await rejectsWith(loc.locate(uri('sip:nx.test')), 'ENOTFOUND');
  await rejectsWith(loc.locate(uri('sip:nodata.test')), 'ENOTFOUND');
  const sent = dns.queries.length;
  assert.equal(sent, 12);
  clock += 29_000;
  await rejectsWith(loc.locate(uri('sip:nx.test')), 'ENOTFOUND');
  await rejectsWith(loc.locate(uri('sip:nodata.test')), 'ENOTFOUND');
  assert.equal(dns.queries.length, sent, 'NXDOMAIN and NODATA served from the cache');
  clock += 2_000;
  await rejectsWith(loc.locate(uri('sip:nx.test')), 'ENOTFOUND');
  assert.equal(dns.queries.length, sent + 6, 're-queried after negativeTtlS');
});

test('concurrent identical lookups share one query', async (t) => {
  const { dns, loc } = await setup(t, CHAIN);
  dns.delayMs = 30;
  const [a, b, c] = await Promise.all([
    loc.locate(uri('sip:example.test')),
    loc.locate(uri('sip:example.test')),
    loc.locate(uri('sip:bob@example.test;lr')),
  ]);
  assert.deepEqual(brief(a), brief(b));
  assert.deepEqual(brief(a), brief(c));
  const perQuestion = new Map<string, number>();
  for (const q of dns.queries)
    perQuestion.set(`${q.type} ${q.name}`, (perQuestion.get(`${q.type} ${q.name}`) ?? 0) + 1);
  assert.ok(
    [...perQuestion.values()].every((n) => n === 1),
    JSON.stringify([...perQuestion]),
  );
  assert.equal(dns.count('example.test', 'NAPTR'), 1);
});

test('cache is bounded: oldest entries evicted first; clearCache empties it', async (t) => {
  const zone: Zone = {};
  for (let i = 1; i <= 5; i++) zone[`h${i}.test`] = { A: [`192.0.2.${i}`] };
  const { dns, loc } = await setup(t, zone, { maxCacheEntries: 4 });
  // Each locate caches two answers: A, and AAAA (NODATA).
  for (let i = 1; i <= 5; i++) await loc.locate(uri(`sip:h${i}.test:5060`));
  assert.equal(loc.cacheSize(), 4);
  await loc.locate(uri('sip:h5.test:5060'));
  assert.equal(dns.count('h5.test', 'A'), 1, 'recent entry still cached');
  await loc.locate(uri('sip:h1.test:5060'));
  assert.equal(dns.count('h1.test', 'A'), 2, 'oldest entry was evicted');
  assert.equal(loc.cacheSize(), 4);
  loc.clearCache();
  assert.equal(loc.cacheSize(), 0);
  await loc.locate(uri('sip:h5.test:5060'));
  assert.equal(dns.count('h5.test', 'A'), 2);
});

test('fake server codec: IPv6 text to bytes', () => {
  assert.equal(ipv6Bytes('::').toString('hex'), '0'.repeat(32));
  assert.equal(ipv6Bytes('2001:db8::1').toString('hex'), '20010db8000000000000000000000001');
  assert.equal(ipv6Bytes('::ffff:192.0.2.1').toString('hex'), '00000000000000000000ffffc0000201');
  assert.equal(ipv6Bytes('1:2:3:4:5:6:7:8').toString('hex'), '00010002000300040005000600070008');
});
