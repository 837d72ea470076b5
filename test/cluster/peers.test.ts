import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostsOf } from '../../src/cluster/peers.js';
import { TrustedAddresses } from '../../src/security/trust.js';

test('hostsOf reads the IP of each proto:host:port, IPv6 unbracketed, and skips what is not one', () => {
  assert.deepEqual(hostsOf(['udp:127.0.0.2:5060', 'tcp:[::1]:5062', 'tls:10.0.0.3:5061', 'nonsense', 'udp:host:x']), [
    '127.0.0.2',
    '::1',
    '10.0.0.3',
  ]);
});

test('peers are trusted beside the trunking addresses, and replaced as a whole', () => {
  const t = new TrustedAddresses([], [], true);
  t.setExtra(['192.0.2.1']);
  t.setPeers(['127.0.0.2', '127.0.0.3']);
  assert.equal(t.isTrusted('127.0.0.2'), true);
  assert.equal(t.isTrusted('192.0.2.1'), true);
  t.setPeers(['127.0.0.3']);
  assert.equal(t.isTrusted('127.0.0.2'), false);
  assert.equal(t.isTrusted('127.0.0.3'), true);
  assert.equal(t.isTrusted('192.0.2.1'), true, 'the trunking addresses stay');
});
