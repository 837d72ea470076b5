/**
 * Source precedence: the most specific match wins, and a carrier gateway's
 * address (a whole address) comes before any trunk range holding it, even
 * 0.0.0.0/0 or a trunk /32 of the same address; the rule that decided in
 * words (explainSource); the range checks the store makes when a trunk is
 * written (refused without force) and the note a carrier inside a trunk
 * range gets.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { TrunkingSnapshot, type TrunkingData } from '../../src/trunking/snapshot.js';
import { gatewaysInTrunkRanges, trunkRangeProblems, describeRangeProblems } from '../../src/trunking/ranges.js';
import type { Carrier, Trunk } from '../../src/trunking/model.js';
import { openStore, TrunkRangeError } from '../../src/store/index.js';
import { sqliteBackend } from '../helpers/backends.js';

function trunk(name: string, ip: string[], transport: Trunk['transport'] = null): Trunk {
  return {
    name,
    account: 'acme',
    ip,
    register: null,
    transport,
    tlsFingerprint: null,
    dest: null,
    cpm: 200,
    maxCalls: null,
    media: 'any',
    codecs: [],
    dialPlan: null,
    createdAt: 0,
  };
}

function carrier(name: string, gateways: string[]): Carrier {
  return {
    name,
    gateways,
    username: null,
    password: null,
    register: false,
    prefix: null,
    plus: true,
    media: 'any',
    codecs: [],
    dialPlan: null,
    createdAt: 0,
  };
}

function snapshot(trunks: Trunk[], carriers: Carrier[], resolved: Record<string, string[]> = {}): TrunkingSnapshot {
  const data: TrunkingData = {
    accounts: [{ name: 'acme', cpm: null, maxCalls: null, createdAt: 0 }],
    trunks,
    dids: [],
    carriers,
    routes: [],
    dialPlans: [],
  };
  return new TrunkingSnapshot(data, new Map(Object.entries(resolved)));
}

function kind(s: TrunkingSnapshot, ip: string, proto = 'udp'): string {
  const m = s.classifySource(ip, proto);
  return m.kind === 'carrier' ? `carrier:${m.carrier.name}` : m.kind === 'none' ? 'none' : `${m.kind}:${m.trunk.name}`;
}

test('a carrier gateway inside a wide trunk range stays the carrier; the rest of the range is the trunk', () => {
  const s = snapshot(
    [trunk('beta', ['127.0.0.0/29']), trunk('pbx', ['127.0.0.2/32'])],
    [carrier('upstream', ['sip:127.0.0.5:5080', 'sip:gw.test'])],
    { 'gw.test': ['127.0.0.6'] },
  );
  assert.equal(kind(s, '127.0.0.5'), 'carrier:upstream', 'an IP literal gateway');
  assert.equal(kind(s, '127.0.0.5', 'tcp'), 'carrier:upstream');
  assert.equal(kind(s, '::ffff:127.0.0.5'), 'carrier:upstream', 'IPv4-mapped');
  assert.equal(kind(s, '127.0.0.6'), 'carrier:upstream', 'a gateway host name as resolved');
  assert.equal(kind(s, '127.0.0.3'), 'trunk:beta');
  assert.equal(kind(s, '127.0.0.2'), 'trunk:pbx', 'the most specific trunk range');
  assert.equal(kind(s, '127.0.0.9'), 'none', 'outside the /29');
});

test('0.0.0.0/0 and ::/0 take strangers but never a carrier gateway', () => {
  const s = snapshot(
    [trunk('all', ['0.0.0.0/0', '::/0'])],
    [carrier('upstream', ['sip:192.0.2.10', 'sip:[2001:db8::10]:5070'])],
  );
  assert.equal(kind(s, '192.0.2.10'), 'carrier:upstream');
  assert.equal(kind(s, '2001:db8::10'), 'carrier:upstream');
  assert.equal(kind(s, '2001:0DB8:0::10'), 'carrier:upstream', 'IPv6 written long');
  assert.equal(kind(s, '198.51.100.7'), 'trunk:all');
  assert.equal(kind(s, '2001:db8::11'), 'trunk:all');
});

test('at equal length (a trunk /32 at a gateway address) the carrier gateway comes first, whatever the transport', () => {
  const s = snapshot(
    [trunk('pbx', ['127.0.0.5/32']), trunk('tls-only', ['127.0.0.7'], 'tls')],
    [carrier('upstream', ['sip:127.0.0.5', 'sip:127.0.0.7;transport=tls'])],
  );
  assert.equal(kind(s, '127.0.0.5'), 'carrier:upstream');
  assert.equal(kind(s, '127.0.0.7', 'tls'), 'carrier:upstream');
  assert.equal(kind(s, '127.0.0.7', 'udp'), 'carrier:upstream');
  // Without the carrier, the trunks are back.
  const t = snapshot([trunk('pbx', ['127.0.0.5/32']), trunk('tls-only', ['127.0.0.7'], 'tls')], []);
  assert.equal(kind(t, '127.0.0.5'), 'trunk:pbx');
  assert.equal(kind(t, '127.0.0.7', 'udp'), 'wrong-transport:tls-only');
});

test('explainSource names the rule that classified the source', () => {
  const s = snapshot(
    [trunk('beta', ['127.0.0.0/29']), trunk('net', ['10.0.0.0/8'], 'tls')],
    [carrier('upstream', ['sip:127.0.0.5:5080'])],
  );
  const c = s.explainSource('127.0.0.5', 'udp');
  assert.equal(c.match.kind, 'carrier');
  assert.equal(c.gateway, 'sip:127.0.0.5:5080');
  assert.equal(
    c.rule,
    'carrier upstream: 127.0.0.5 is the address of its gateway sip:127.0.0.5:5080 (a carrier gateway comes before any trunk range)',
  );
  const t = s.explainSource('127.0.0.4', 'UDP');
  assert.equal(t.match.kind, 'trunk');
  assert.equal(t.cidr, '127.0.0.0/29');
  assert.equal(
    t.rule,
    'trunk beta: 127.0.0.0/29 is the most specific trunk range holding 127.0.0.4 that allows udp; no carrier gateway has this address',
  );
  const w = s.explainSource('10.1.2.3', 'tcp');
  assert.equal(w.match.kind, 'wrong-transport');
  assert.equal(
    w.rule,
    'trunk net: 10.0.0.0/8 holds 10.1.2.3, but the trunk allows tls only, not tcp (403 Transport not allowed)',
  );
  const n = s.explainSource('192.0.2.1', 'udp');
  assert.equal(n.match.kind, 'none');
  assert.match(n.rule, /^no carrier gateway and no trunk range holds 192\.0\.2\.1/);
  assert.match(s.explainSource('nonsense', 'udp').rule, /^"nonsense" is not an IP address$/);
});

test('range checks: every address, a gateway address inside (IP literals only), nothing else', () => {
  const carriers = [carrier('upstream', ['sip:127.0.0.5:5080', 'sip:gw.test']), carrier('v6', ['sip:[2001:db8::10]'])];
  assert.deepEqual(trunkRangeProblems(['127.0.0.2/32', '10.0.0.0/8'], carriers), []);
  assert.deepEqual(trunkRangeProblems(['127.0.0.0/29'], carriers), [
    { kind: 'gateway', cidr: '127.0.0.0/29', address: '127.0.0.5', carrier: 'upstream', gateway: 'sip:127.0.0.5:5080' },
  ]);
  assert.deepEqual(
    trunkRangeProblems(['127.0.0.5/32'], carriers).map((p) => p.kind),
    ['gateway'],
  );
  assert.deepEqual(trunkRangeProblems(['0.0.0.0/0'], carriers), [{ kind: 'everything', cidr: '0.0.0.0/0' }]);
  assert.deepEqual(trunkRangeProblems(['::/0'], []), [{ kind: 'everything', cidr: '::/0' }]);
  assert.deepEqual(
    trunkRangeProblems(['2001:db8::/32'], carriers).map((p) => p.kind === 'gateway' && p.address),
    ['2001:db8::10'],
  );
  assert.equal(
    describeRangeProblems(trunkRangeProblems(['127.0.0.0/29', '0.0.0.0/0'], carriers)),
    "0.0.0.0/0 holds every address: requests from anywhere would be this trunk's (and 1 more like it)",
  );
  assert.equal(
    describeRangeProblems(trunkRangeProblems(['127.0.0.0/29'], carriers)),
    "127.0.0.0/29 holds 127.0.0.5, the address of carrier upstream's gateway sip:127.0.0.5:5080 (its requests stay the carrier's)",
  );
  assert.deepEqual(
    gatewaysInTrunkRanges(carrier('new', ['sip:127.0.0.4', 'sip:127.0.1.1']), [
      trunk('beta', ['127.0.0.0/29']),
      trunk('pbx', ['127.0.0.4']),
    ]),
    [{ gateway: 'sip:127.0.0.4', address: '127.0.0.4', trunk: 'pbx', cidr: '127.0.0.4' }],
  );
});

const backend = sqliteBackend('trunking');
after(() => backend.cleanup());

test('the store refuses a trunk range over a carrier gateway or every address without force, on add and update', async () => {
  const store = await openStore(await backend.fresh(), { env: {} });
  try {
    await store.accounts.add({ name: 'acme' });
    await store.carriers.add({ name: 'upstream', gateways: ['sip:127.0.0.5:5080'] });
    await assert.rejects(store.trunks.add({ name: 'beta', account: 'acme', ip: ['127.0.0.0/29'] }), (err: unknown) => {
      assert.ok(err instanceof TrunkRangeError);
      assert.equal(err.status, 409);
      assert.equal(
        err.message,
        "ip: 127.0.0.0/29 holds 127.0.0.5, the address of carrier upstream's gateway sip:127.0.0.5:5080 (its requests stay the carrier's); force adds it anyway",
      );
      return true;
    });
    await assert.rejects(store.trunks.add({ name: 'beta', account: 'acme', ip: ['0.0.0.0/0'] }), TrunkRangeError);
    assert.deepEqual(await store.trunks.list(), [], 'nothing written');
    await store.trunks.add({ name: 'beta', account: 'acme', ip: ['127.0.0.8/29'] });
    await assert.rejects(store.trunks.update({ name: 'beta', account: 'acme', ip: ['127.0.0.0/24'] }), TrunkRangeError);
    assert.deepEqual((await store.trunks.show('beta')).ip, ['127.0.0.8/29']);
    assert.deepEqual(
      (await store.trunks.update({ name: 'beta', account: 'acme', ip: ['127.0.0.0/24'] }, { force: true })).ip,
      ['127.0.0.0/24'],
    );
    assert.deepEqual(
      (await store.trunks.add({ name: 'all', account: 'acme', ip: ['0.0.0.0/0'] }, { force: true })).ip,
      ['0.0.0.0/0'],
    );
    // A carrier gateway inside an existing range is accepted (the carrier keeps its address).
    await store.carriers.add({ name: 'late', gateways: ['sip:127.0.0.4'] });
  } finally {
    await store.close();
  }
});
