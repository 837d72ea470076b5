/**
 * CidrTable: every block holding an address, most specific first, for IPv4
 * and IPv6 in their written forms; checked against node's BlockList on
 * random addresses so that the fast path answers what the reference does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockList } from 'node:net';
import { CidrTable, ipv4ToNumber, ipv6ToHextets } from '../../src/net/cidr-table.js';
import { prng } from '../helpers/prng.js';

function all(t: CidrTable<string>, ip: string): string[] {
  const out: string[] = [];
  t.find(ip, (v) => {
    out.push(v);
    return false;
  });
  return out;
}

test('ipv4ToNumber and ipv6ToHextets', () => {
  assert.equal(ipv4ToNumber('0.0.0.0'), 0);
  assert.equal(ipv4ToNumber('255.255.255.255'), 4294967295);
  assert.equal(ipv4ToNumber('10.1.2.3'), 0x0a010203);
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', '1.2.3.', 'a.b.c.d', '1.2.3.4/8', '1234.1.1.1']) {
    assert.equal(ipv4ToNumber(bad), -1, bad);
  }
  assert.deepEqual(ipv6ToHextets('::'), [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(ipv6ToHextets('::1'), [0, 0, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual(ipv6ToHextets('2001:db8::'), [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(ipv6ToHextets('2001:DB8:0:0:1:0:0:1'), [0x2001, 0xdb8, 0, 0, 1, 0, 0, 1]);
  assert.deepEqual(ipv6ToHextets('::ffff:1.2.3.4'), [0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304]);
  assert.deepEqual(ipv6ToHextets('::1.2.3.4'), [0, 0, 0, 0, 0, 0, 0x0102, 0x0304]);
  assert.deepEqual(ipv6ToHextets('1:2:3:4:5:6:1.2.3.4'), [1, 2, 3, 4, 5, 6, 0x0102, 0x0304]);
  for (const bad of ['1.2.3.4', '1::2::3', 'g::1', '1:2:3:4:5:6:7:8:9', ''])
    assert.equal(ipv6ToHextets(bad), null, bad);
});

test('most specific block first; equal blocks in insertion order until sorted; /0 matches all of its family', () => {
  const t = new CidrTable<string>();
  assert.ok(t.add('10.0.0.0/8', 'net8'));
  assert.ok(t.add('10.1.0.0/16', 'net16'));
  assert.ok(t.add('10.1.2.3', 'host-b'));
  assert.ok(t.add('10.1.2.3/32', 'host-a'));
  assert.ok(t.add('0.0.0.0/0', 'any4'));
  assert.ok(t.add('2001:db8::/32', 'v6-32'));
  assert.ok(t.add('2001:db8:0:1::/64', 'v6-64'));
  assert.ok(t.add('::/0', 'any6'));
  assert.ok(t.add('10.1.2.200/25', 'host-bits-set'));
  assert.equal(t.add('10.0.0.0/33', 'x'), false);
  assert.equal(t.add('10.0.0/8', 'x'), false);
  assert.equal(t.add('example.org/8', 'x'), false);
  t.sortEach((a, b) => (a < b ? -1 : 1));
  assert.deepEqual(all(t, '10.1.2.3'), ['host-a', 'host-b', 'net16', 'net8', 'any4']);
  assert.deepEqual(all(t, '10.1.2.130'), ['host-bits-set', 'net16', 'net8', 'any4']);
  assert.deepEqual(all(t, '10.9.9.9'), ['net8', 'any4']);
  assert.deepEqual(all(t, '192.0.2.1'), ['any4']);
  assert.deepEqual(all(t, '2001:db8:0:1::5'), ['v6-64', 'v6-32', 'any6']);
  assert.deepEqual(all(t, '2001:db8:ffff::1'), ['v6-32', 'any6']);
  assert.deepEqual(all(t, '2001:db9::1'), ['any6']);
  assert.deepEqual(all(t, 'not an address'), []);
  // find stops at the first visit that says so.
  const seen: string[] = [];
  assert.equal(
    t.find('10.1.2.3', (v) => (seen.push(v), v === 'net16')),
    true,
  );
  assert.deepEqual(seen, ['host-a', 'host-b', 'net16']);
});

test('the same answers as node BlockList on 20,000 random addresses', () => {
  const rand = prng(4475);
  const blocks: { cidr: string; list: BlockList; v6: boolean }[] = [];
  const t = new CidrTable<string>();
  const byte = (): number => Math.floor(rand() * 256);
  const hex = (): string => Math.floor(rand() * 65536).toString(16);
  for (let i = 0; i < 200; i++) {
    const v6 = i % 4 === 0;
    const bits = v6 ? Math.floor(rand() * 129) : Math.floor(rand() * 33);
    const ip = v6 ? `2001:db8:${hex()}:${hex()}::${hex()}` : `10.${byte() % 4}.${byte()}.${byte()}`;
    const list = new BlockList();
    list.addSubnet(ip, bits, v6 ? 'ipv6' : 'ipv4');
    const cidr = `${ip}/${bits}`;
    blocks.push({ cidr, list, v6 });
    assert.ok(t.add(cidr, cidr));
  }
  for (let i = 0; i < 20_000; i++) {
    const v6 = i % 4 === 0;
    const ip = v6 ? `2001:db8:${hex()}:${hex()}:${hex()}::${hex()}` : `10.${byte() % 4}.${byte()}.${byte()}`;
    const expected = new Set(
      blocks.filter((b) => b.v6 === v6 && b.list.check(ip, v6 ? 'ipv6' : 'ipv4')).map((b) => b.cidr),
    );
    assert.deepEqual(new Set(all(t, ip)), expected, ip);
  }
});
