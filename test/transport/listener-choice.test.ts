import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addressBits,
  commonPrefix,
  KernelSources,
  kernelSource,
  ListenerChoice,
  type ListenerCandidate,
  type SourceAddresses,
} from '../../src/transport/listener-choice.js';

/**
 * The rule that picks the listener a message leaves from on a server with
 * listeners on several networks (src/transport/listener-choice.ts). The
 * kernel's answers are given as a table here (the routes of a host with a
 * public and a private side); KernelSources is checked against the real
 * kernel at the end.
 */
class Routes implements SourceAddresses {
  readonly asked: string[] = [];
  constructor(private readonly table: Record<string, string | null>) {}
  sourceFor(dest: string): string | null | undefined {
    return dest in this.table ? this.table[dest] : undefined;
  }
  learn(dest: string): Promise<void> | null {
    this.asked.push(dest);
    return dest in this.table ? null : Promise.resolve();
  }
}

const l = (proto: ListenerCandidate['proto'], host: string, networks?: string[]): ListenerCandidate => ({
  proto,
  host,
  ...(networks && { networks }),
});

test("loopback networks 127.0.0.0/24 and 127.0.1.0/24: the listener of the destination's subnet, the kernel not asked", () => {
  const routes = new Routes({});
  const c = new ListenerChoice(
    [l('udp', '127.0.0.10'), l('tcp', '127.0.0.10'), l('udp', '127.0.1.10'), l('tcp', '127.0.1.10')],
    routes,
  );
  assert.equal(c.multihomed, true);
  assert.equal(c.choose('udp', '127.0.1.20'), 2);
  assert.equal(c.choose('tcp', '127.0.1.20'), 3);
  assert.equal(c.choose('udp', '127.0.0.20'), 0);
  assert.equal(c.choose('tcp', '127.0.0.20'), 1);
  assert.equal(c.choose('udp', '127.0.1.10'), 2, "a listener's own address");
  // 127.5.5.5 shares no /24 with either: the first of the transport.
  assert.equal(c.choose('udp', '127.5.5.5'), 0);
  assert.equal(c.choose('tls', '127.0.1.20'), -1, 'no listener of the transport');
  assert.deepEqual(
    routes.asked,
    [],
    "every address of 127.0.0.0/8 is ours: the kernel's answer (127.0.0.1) says nothing",
  );
  assert.equal(c.prepare(['127.0.1.20', '127.0.0.20']), null);
});

test("public and private side: the kernel's source address decides for a destination off both subnets", () => {
  const routes = new Routes({ '198.51.100.77': '203.0.113.5', '10.9.9.9': '10.0.0.5', '192.0.2.1': '10.0.0.5' });
  const c = new ListenerChoice([l('udp', '10.0.0.5'), l('udp', '203.0.113.5')], routes);
  assert.equal(c.choose('udp', '198.51.100.77'), 1, 'default route on the public side');
  assert.equal(c.choose('udp', '10.9.9.9'), 0, 'a route toward the private side');
  assert.equal(c.choose('udp', '192.0.2.1'), 0);
  // Same subnet without a kernel answer yet: the /24 rule; and the kernel is asked for the next time.
  assert.equal(c.choose('udp', '203.0.113.77'), 1);
  assert.equal(c.choose('udp', '10.0.0.77'), 0);
  assert.ok(routes.asked.includes('203.0.113.77') && routes.asked.includes('10.0.0.77'));
  // Unknown and off both subnets: the first listener.
  assert.equal(c.choose('udp', '8.8.8.8'), 0);
});

test("the kernel's source is another address of a listener's subnet (a secondary address): that listener", () => {
  const routes = new Routes({ '8.8.8.8': '198.51.100.2' });
  const c = new ListenerChoice([l('udp', '10.0.0.5'), l('udp', '198.51.100.7')], routes);
  assert.equal(c.choose('udp', '8.8.8.8'), 1);
});

test("the destination's subnet comes before a prefix shared with the kernel's source", () => {
  // The kernel answers 10.0.0.1 (not a listener, but close to the first); the destination is in the second's /24.
  const routes = new Routes({ '10.0.1.20': '10.0.0.1' });
  const c = new ListenerChoice([l('udp', '10.0.0.10'), l('udp', '10.0.1.10')], routes);
  assert.equal(c.choose('udp', '10.0.1.20'), 1);
});

test('a configured binding (networks) wins over the kernel', () => {
  const routes = new Routes({ '198.51.100.77': '203.0.113.5' });
  const c = new ListenerChoice([l('udp', '203.0.113.5'), l('udp', '10.0.0.5', ['198.51.100.0/24'])], routes);
  assert.equal(c.choose('udp', '198.51.100.77'), 1);
  assert.equal(c.choose('udp', '198.51.101.1'), 0, 'outside the block: the first listener');
});

test('one listener per family: no choice, no question to the kernel', () => {
  const routes = new Routes({});
  const c = new ListenerChoice([l('udp', '10.0.0.5'), l('tcp', '10.0.0.5'), l('udp', '::1')], routes);
  assert.equal(c.multihomed, false);
  assert.equal(c.choose('udp', '8.8.8.8'), 0);
  assert.equal(c.choose('udp', '2001:db8::1'), 2, 'the IPv6 listener for an IPv6 destination');
  assert.equal(c.choose('tcp', '2001:db8::1'), 1, 'no IPv6 listener of the transport: the first of it');
  assert.equal(c.prepare(['8.8.8.8']), null);
  assert.deepEqual(routes.asked, []);
});

test("wildcard listeners match neither the kernel's source nor a subnet", () => {
  const routes = new Routes({ '8.8.8.8': '0.0.0.0' });
  const c = new ListenerChoice([l('udp', '0.0.0.0'), l('udp', '10.0.0.5'), l('udp', '10.0.1.5')], routes);
  assert.equal(c.choose('udp', '10.0.1.9'), 2);
  assert.equal(c.choose('udp', '8.8.8.8'), 0);
});

test('IPv6: the same /64', () => {
  const routes = new Routes({});
  const c = new ListenerChoice([l('udp', 'fd00:1::5'), l('udp', 'fd00:2::5'), l('udp', '10.0.0.5')], routes);
  assert.equal(c.choose('udp', 'fd00:2::99'), 1);
  assert.equal(c.choose('udp', 'fd00:1:0:0:ffff::1'), 0);
  assert.equal(c.choose('udp', 'fd00:3::1'), 0, 'no /64 in common: the first IPv6 listener');
  assert.equal(c.choose('udp', '10.0.0.9'), 2);
});

test('prepare asks the kernel about destinations that need it, once each while fresh', async () => {
  const routes = new Routes({ '198.51.100.77': '203.0.113.5' });
  const c = new ListenerChoice([l('udp', '10.0.0.5'), l('udp', '203.0.113.5')], routes);
  assert.equal(c.prepare(['198.51.100.77']), null, 'known and fresh');
  const p = c.prepare(['192.0.2.1', '127.0.0.1', 'example.com']);
  assert.ok(p !== null);
  await p;
  assert.deepEqual(routes.asked, ['198.51.100.77', '192.0.2.1'], 'loopback and host names never go to the kernel');
});

test('address prefixes', () => {
  const v4 = (ip: string) => addressBits(ip, 4)!;
  const v6 = (ip: string) => addressBits(ip, 6)!;
  assert.equal(commonPrefix(v4('127.0.1.10'), v4('127.0.1.20')), 27);
  assert.equal(commonPrefix(v4('127.0.0.10'), v4('127.0.1.20')), 23);
  assert.equal(commonPrefix(v4('10.0.0.5'), v4('10.0.0.5')), 32);
  assert.equal(commonPrefix(v6('fd00:2::5'), v6('fd00:2::99')), 120);
  assert.equal(commonPrefix(v6('::ffff:10.0.0.1'), v6('::ffff:10.0.0.2')), 126);
  assert.equal(addressBits('1.2.3', 4), null);
  assert.equal(addressBits('1::2::3', 6), null);
  assert.equal(addressBits('fd00::g', 6), null);
});

test('KernelSources learns from the kernel (a connected UDP socket): toward 127.0.0.1 the source is 127.0.0.1', async () => {
  const k = new KernelSources();
  assert.equal(k.sourceFor('127.0.0.1'), undefined);
  const p = k.learn('127.0.0.1');
  assert.ok(p !== null);
  assert.equal(k.learn('127.0.0.1'), p, 'one question in flight per destination');
  await p;
  assert.equal(k.sourceFor('127.0.0.1'), '127.0.0.1');
  assert.equal(k.learn('127.0.0.1'), null, 'fresh: nothing to learn');
  assert.equal(await kernelSource('not-an-ip'), null);
  // A TTL of 0: every learn asks again.
  const short = new KernelSources(0, 2);
  await short.learn('127.0.0.1');
  assert.ok(short.learn('127.0.0.1') !== null);
});
