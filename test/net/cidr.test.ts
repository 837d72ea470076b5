/**
 * One parser of `IP` and `IP/PREFIX` (src/net/cidr.ts): the config check,
 * the store's ACL form, the trunk ranges' check, the black/white lists, the
 * CIDR table and AddressSet all take and refuse the same texts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AddressSet, isCidr, parseCidr } from '../../src/net/cidr.js';
import { CidrTable } from '../../src/net/cidr-table.js';
import { isCidr as configIsCidr } from '../../src/config/address.js';
import { normalizeCidr } from '../../src/store/repos/acl.js';
import { checkCidr } from '../../src/trunking/validate.js';
import { normalizeListValue } from '../../src/security/lists.js';
import { AccessList } from '../../src/security/acl.js';

const GOOD = [
  '10.0.0.0/8',
  '192.0.2.10',
  '192.0.2.10/32',
  '0.0.0.0/0',
  '::1',
  '::/0',
  '2001:db8::/32',
  '2001:DB8::1/128',
  '::ffff:1.2.3.4',
  '10.0.0.0/08',
];
const BAD = [
  '',
  '10.0.0.0/',
  '10.0.0.0/33',
  '::/129',
  '10.0.0.0/1e1',
  '10.0.0.0/0x8',
  '10.0.0.0/-1',
  '10.0.0.0/ 8',
  '10.0.0.0/8/8',
  '10.0.0.0/0008',
  'example.org',
  '10.0.0',
  '1.2.3.4 ',
];

function takes(f: (s: string) => unknown, s: string): boolean {
  try {
    const r = f(s);
    return r !== false && r !== null;
  } catch {
    return false; // the refusal is what is tested
  }
}

const PARSERS: Array<[string, (s: string) => unknown]> = [
  ['parseCidr', parseCidr],
  ['isCidr', isCidr],
  ['config isCidr', configIsCidr],
  ['store normalizeCidr', (s) => (s.trim() !== s ? null : normalizeCidr(s))],
  ['trunking checkCidr', (s) => (s.trim() !== s ? null : checkCidr(s))],
  ['lists normalizeListValue', (s) => (s.trim() !== s ? null : normalizeListValue('ip', s))],
  ['CidrTable.add', (s) => new CidrTable<number>().add(s, 1)],
  ['AddressSet', (s) => new AddressSet([s])],
];

test('every CIDR parser takes the same texts', () => {
  for (const [name, f] of PARSERS) {
    for (const s of GOOD) assert.ok(takes(f, s), `${name} takes ${JSON.stringify(s)}`);
    for (const s of BAD) assert.ok(!takes(f, s), `${name} refuses ${JSON.stringify(s)}`);
  }
});

test('parseCidr: address, family, prefix length (a bare address is a /32 or /128)', () => {
  assert.deepEqual(parseCidr('10.1.0.0/16'), { ip: '10.1.0.0', family: 4, bits: 16, hasPrefix: true });
  assert.deepEqual(parseCidr('192.0.2.1'), { ip: '192.0.2.1', family: 4, bits: 32, hasPrefix: false });
  assert.deepEqual(parseCidr('2001:db8::/48'), { ip: '2001:db8::', family: 6, bits: 48, hasPrefix: true });
  assert.deepEqual(parseCidr('::1'), { ip: '::1', family: 6, bits: 128, hasPrefix: false });
  assert.equal(normalizeCidr(' [2001:DB8::]/032 '), '2001:db8::/32');
  assert.equal(checkCidr('2001:DB8::1'), '2001:db8::1/128');
});

test('AddressSet and the access lists match by block, IPv4 and IPv6 apart', () => {
  const set = new AddressSet(['10.0.0.0/8', '2001:db8::/32', '192.0.2.7']);
  assert.equal(set.size, 3);
  for (const ip of ['10.1.2.3', '2001:db8::5', '192.0.2.7']) assert.ok(set.has(ip), ip);
  for (const ip of ['11.0.0.1', '2001:db9::1', '192.0.2.8', 'not-an-ip', '']) assert.ok(!set.has(ip), ip);
  assert.throws(() => new AddressSet(['10.0.0.0/']), /bad prefix length: 10\.0\.0\.0\//);
  assert.throws(() => new AddressSet(['example.org']), /not an IP address or CIDR: example\.org/);

  const acl = new AccessList([
    { group: 'bad', action: 'deny', cidr: '10.9.0.0/16', method: '*', direction: 'any' },
    { group: 'carriers', action: 'allow', cidr: '10.0.0.0/8', method: 'INVITE', direction: 'any' },
  ]);
  assert.deepEqual(acl.decide('10.9.1.1', 'INVITE'), {
    allowed: false,
    entry: { group: 'bad', action: 'deny', cidr: '10.9.0.0/16', method: '*', direction: 'any' },
    reason: 'denied by acl bad',
  });
  assert.equal(acl.decide('10.1.1.1', 'INVITE').allowed, true);
  assert.equal(acl.decide('11.1.1.1', 'INVITE').reason, 'not in an allowed address group');
  assert.equal(acl.decide('11.1.1.1', 'OPTIONS').allowed, true);
});
