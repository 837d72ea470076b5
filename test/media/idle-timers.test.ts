import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BuiltinMediaEngine } from '../../src/media/builtin.js';
import { WorkerMediaEngine } from '../../src/media/worker.js';
import type { LegMediaOptions } from '../../src/media/engine.js';
import { mediaPortRange, Peer } from './helpers.js';
import { sleep, waitFor } from '../helpers/wait.js';

const ANY: LegMediaOptions = { profile: 'as-offered', codecs: [] };

test('built-in relay: the media-timeout check runs only while there are calls, and stops and starts again with them', async () => {
  const e = new BuiltinMediaEngine({
    address: '127.0.0.1',
    ports: mediaPortRange(20),
    timeout: 0.4,
    holdTimeout: 3600,
  });
  const a = await Peer.create();
  const b = await Peer.create();
  const timeouts: string[] = [];
  e.onTimeout((sid) => timeouts.push(sid));
  try {
    assert.equal(e.ticking, false, 'no call: no timer');
    await e.offer('c1', 'a', a.sdp(), ANY);
    assert.equal(e.ticking, true, 'the first call starts it');
    await e.offer('c2', 'a', a.sdp(), ANY);
    await e.delete('c1');
    assert.equal(e.ticking, true, 'a call is left');
    await e.delete('c2');
    assert.equal(e.ticking, false, 'the last call gone: stopped');
    await assert.rejects(e.offer('bad', 'a', 'v=0\r\n', ANY));
    assert.equal(e.ticking, false, 'a refused offer leaves no timer behind');
    // Started again, it still does its job: a silent answered call times out.
    await e.offer('c3', 'a', a.sdp(), ANY);
    await e.answer('c3', 'b', b.sdp(), ANY);
    assert.equal(e.ticking, true);
    await waitFor(() => timeouts.includes('c3'), { timeoutMs: 5000, what: 'media timeout of c3', intervalMs: 20 });
    await e.delete('c3');
    assert.equal(e.ticking, false);
  } finally {
    a.close();
    b.close();
    await e.close();
  }
});

test('relay on a worker thread: figures are pushed only while there are calls, one last (empty) push after the last', async () => {
  const e = new WorkerMediaEngine(
    { address: '127.0.0.1', ports: mediaPortRange(20), timeout: 30, holdTimeout: 3600 },
    { statsMs: 40 },
  );
  const a = await Peer.create();
  try {
    await sleep(300);
    assert.equal(e.statsPushes, 0, 'no call: the worker stays asleep');
    await e.offer('w1', 'a', a.sdp(), ANY);
    await waitFor(() => e.statsPushes >= 3, { timeoutMs: 5000, what: 'pushes during the call', intervalMs: 10 });
    assert.notEqual(e.stats('w1'), null);
    await e.delete('w1');
    const after = e.statsPushes;
    await sleep(300);
    assert.ok(e.statsPushes <= after + 1, `at most the last empty push after the call (${e.statsPushes - after})`);
    await e.offer('w2', 'a', a.sdp(), ANY);
    const again = e.statsPushes;
    await waitFor(() => e.statsPushes >= again + 2, { timeoutMs: 5000, what: 'pushes again', intervalMs: 10 });
    await e.delete('w2');
  } finally {
    a.close();
    await e.close();
  }
});
