import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PortAllocator } from '../../src/media/ports.js';
import { BuiltinMediaEngine } from '../../src/media/builtin.js';
import { freeMediaRange, Peer, sdpPorts } from './helpers.js';

test('PortAllocator: even RTP ports with the odd neighbour, single ports, exhaustion, freeing, no immediate reuse', () => {
  const p = new PortAllocator(41001, 41010); // odd start: pairs are 41002/3 ... 41008/9
  const pairs: number[] = [];
  for (let i = 0; i < 4; i++) pairs.push(p.allocPair()!);
  assert.ok(pairs.every((x) => x % 2 === 0 && x >= 41002 && x + 1 <= 41010));
  assert.equal(new Set(pairs).size, 4);
  assert.equal(p.allocPair(), null, 'no even/odd pair left');
  const one = p.allocOne();
  assert.ok(one === 41001 || one === 41010);
  assert.equal(p.inUse, 9);
  p.free(pairs[0]!);
  p.free(pairs[0]! + 1);
  p.free(pairs[0]!); // freeing twice is harmless
  assert.equal(p.inUse, 7);
  assert.equal(p.allocPair(), pairs[0]);
  assert.throws(() => new PortAllocator(40000, 39999), RangeError);
  const q = new PortAllocator(42000, 42099);
  const a = q.allocPair()!;
  q.free(a);
  q.free(a + 1);
  assert.notEqual(q.allocPair(), a, 'a port just freed is not handed out again at once');
});

test('PortAllocator: rtcp-mux calls hold 2 ports each: a single port fills the gap a given-back RTCP port left, pairs stay whole', () => {
  const p = new PortAllocator(42000, 42039); // 20 even/odd pairs
  let calls = 0;
  for (;;) {
    const callerLeg = p.allocOne(); // the caller offered rtcp-mux: one port
    const calleeLeg = p.allocPair(); // toward the callee, RTCP kept until its answer
    if (callerLeg === null || calleeLeg === null) break;
    p.free(calleeLeg + 1); // the callee answered rtcp-mux: its RTCP port given back
    calls++;
  }
  // The first call breaks one pair more; every later one takes a pair and the gap the one before left.
  assert.equal(calls, 19, 'not 10: a single port taken from a whole pair each time would leave half the range in gaps');
  const edges = new PortAllocator(41001, 41004); // 41001 and 41004: no pair neighbour in the range
  assert.deepEqual([edges.allocOne(), edges.allocOne()].sort(), [41001, 41004]);
  assert.equal(edges.allocPair(), 41002);
});

test('parallel offers of 25 calls get distinct ports, and all are freed', async () => {
  const range = await freeMediaRange(120);
  const e = new BuiltinMediaEngine({ address: '127.0.0.1', ports: range, timeout: 30, holdTimeout: 3600 });
  const peer = await Peer.create();
  try {
    const offers = await Promise.all(
      Array.from({ length: 25 }, (_, i) => e.offer(`par${i}`, 'a', peer.sdp(), { profile: 'as-offered', codecs: [] })),
    );
    const ports = offers.map((o) => sdpPorts(o).port);
    assert.equal(new Set(ports).size, 25);
    assert.equal(e.ports.inUse, 100);
    await Promise.all(offers.map((_, i) => e.delete(`par${i}`)));
    assert.equal(e.ports.inUse, 0);
  } finally {
    peer.close();
    await e.close();
  }
});
