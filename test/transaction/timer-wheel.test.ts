import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { TimerWheel } from '../../src/transaction/timer-wheel.js';
import { sleep } from '../helpers/wait.js';

/** Active Node timers ('Timeout' resources: ref'd setTimeout/setInterval handles). */
function nodeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

test('timers fire in delay order, never early, within resolution + a few ms', async () => {
  const res = 10;
  const wheel = new TimerWheel(res);
  const delays = [50, 10, 30, 100, 20, 70, 0, 40, 150, 5];
  const fired: Array<{ delay: number; late: number }> = [];
  // Plain Node timers beside the wheel's: how late the event loop itself runs (a loaded machine).
  let loopLate = 0;
  const start = performance.now();
  await new Promise<void>((resolve) => {
    for (const d of delays) {
      setTimeout(() => (loopLate = Math.max(loopLate, performance.now() - start - d)), d);
      wheel.schedule(d, () => {
        fired.push({ delay: d, late: performance.now() - start - d });
        if (fired.length === delays.length) resolve();
      });
    }
  });
  // Delays at least one resolution apart fire in order (0 and 5 share a tick: insertion order).
  const order = fired.map((f) => f.delay);
  assert.deepEqual(
    order.filter((d) => d >= 10),
    [10, 20, 30, 40, 50, 70, 100, 150],
  );
  for (const f of fired) {
    assert.ok(f.late >= -0.01, `delay ${f.delay} fired ${-f.late} ms early`);
    assert.ok(
      f.late <= res + 8 + loopLate,
      `delay ${f.delay} fired ${f.late.toFixed(1)} ms late (event loop ${loopLate.toFixed(1)} ms late)`,
    );
  }
  assert.equal(wheel.size(), 0);
  wheel.stop();
});

test('cancel: a cancelled timer never fires, double cancel is harmless, size() counts pending', async () => {
  const wheel = new TimerWheel(5);
  const fired: string[] = [];
  const a = wheel.schedule(20, () => fired.push('a'));
  const b = wheel.schedule(20, () => fired.push('b'));
  wheel.schedule(30, () => fired.push('c'));
  assert.equal(wheel.size(), 3);
  wheel.cancel(b);
  wheel.cancel(b);
  assert.equal(wheel.size(), 2);
  assert.equal(b.pending, false);
  assert.equal(a.pending, true);
  await sleep(60);
  assert.deepEqual(fired, ['a', 'c']);
  assert.equal(a.pending, false);
  wheel.cancel(a); // after it fired: no effect
  assert.equal(wheel.size(), 0);
  wheel.stop();
});

test('a timer cancelled by another timer due in the same tick does not fire', async () => {
  const wheel = new TimerWheel(10);
  const fired: string[] = [];
  // Same tick: the first one cancels the second (a transaction's Timer F ending it while Timer E is due).
  const h2: { h: ReturnType<TimerWheel['schedule']> | null } = { h: null };
  wheel.schedule(20, () => {
    fired.push('first');
    if (h2.h !== null) wheel.cancel(h2.h);
  });
  h2.h = wheel.schedule(20, () => fired.push('second'));
  await sleep(50);
  assert.deepEqual(fired, ['first']);
  wheel.stop();
});

test('scheduleFor calls target.onTimer(id) without a closure; timers scheduled while firing run later', async () => {
  const wheel = new TimerWheel(5);
  const ids: number[] = [];
  const target = {
    onTimer(id: number) {
      ids.push(id);
      if (id === 1) wheel.scheduleFor(0, target, 3); // from inside a firing: next tick
    },
  };
  wheel.scheduleFor(10, target, 1);
  wheel.scheduleFor(20, target, 2);
  await sleep(50);
  assert.deepEqual(ids, [1, 3, 2]);
  wheel.stop();
});

test('delays beyond one revolution wait their round (8 slots of 5 ms, 100 ms delay)', async () => {
  const wheel = new TimerWheel(5, 8);
  const start = performance.now();
  let at = -1;
  let early = -1;
  wheel.schedule(100, () => (at = performance.now() - start));
  wheel.schedule(12, () => (early = performance.now() - start));
  await sleep(140);
  assert.ok(early >= 12 && early <= 12 + 5 + 8, `12 ms timer at ${early}`);
  assert.ok(at >= 100 && at <= 100 + 5 + 8, `100 ms timer at ${at}`);
  wheel.stop();
});

test('stop() drops pending timers and the Node timer; the wheel can be used again', async () => {
  const before = nodeTimers();
  const wheel = new TimerWheel(5);
  let fired = 0;
  for (let i = 0; i < 100; i++) wheel.schedule(10 + i, () => fired++);
  assert.equal(nodeTimers(), before + 1);
  wheel.stop();
  assert.equal(wheel.size(), 0);
  assert.equal(nodeTimers(), before);
  await sleep(130);
  assert.equal(fired, 0);
  wheel.schedule(5, () => fired++);
  await sleep(30);
  assert.equal(fired, 1);
  assert.equal(nodeTimers(), before, 'an empty wheel holds no Node timer');
  wheel.stop();
});

test('50,000 timers: exactly one active Node timer, O(1) schedule/cancel, all fire in bounded time', async () => {
  const before = nodeTimers();
  assert.equal(before, 0, `test starts with ${before} Node timers`);
  const wheel = new TimerWheel(10);
  const N = 50_000;
  const MAX = 300;
  let fired = 0;
  let early = 0;
  let worstLate = 0;
  const t0 = performance.now();
  const cancelled: ReturnType<TimerWheel['schedule']>[] = [];
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  for (let i = 0; i < N; i++) {
    const delay = (i * 7919) % MAX;
    const due = t0 + delay;
    const h = wheel.schedule(delay, () => {
      const now = performance.now();
      if (now < due) early++;
      if (now - due > worstLate) worstLate = now - due;
      if (++fired === N - 1000) resolveAll();
    });
    if (i % 50 === 0) cancelled.push(h);
  }
  const scheduleMs = performance.now() - t0;
  for (const h of cancelled) wheel.cancel(h);
  assert.equal(wheel.size(), N - cancelled.length);
  assert.equal(nodeTimers(), 1, 'one Node timer for the whole wheel');
  // Bounds against a wheel that degrades (O(n) per timer, timers stuck), not speed targets: loose
  // enough for a loaded CI machine running two test files at once.
  assert.ok(scheduleMs < 2000, `scheduling 50,000 took ${scheduleMs.toFixed(0)} ms`);

  // Sample while running: still one handle.
  await sleep(MAX / 2);
  assert.equal(nodeTimers(), 1);
  await all;
  const total = performance.now() - t0;
  assert.equal(fired, N - cancelled.length);
  assert.equal(early, 0, 'no timer fired early');
  assert.ok(total < MAX + 2000, `all fired after ${total.toFixed(0)} ms`);
  assert.ok(worstLate < 1000, `worst lateness ${worstLate.toFixed(1)} ms`);
  assert.equal(wheel.size(), 0);
  await sleep(0);
  assert.equal(nodeTimers(), 0, 'an empty wheel releases its Node timer');
  wheel.stop();
});

test('long timers come due on a grid of at most delay/16: never early, few wake-ups for many timers', async () => {
  const res = 1;
  const wheel = new TimerWheel(res);
  const start = performance.now();
  const late: number[] = [];
  const N = 100;
  await new Promise<void>((resolve) => {
    // 100 timers with delays spread over 320-420 ms: a grid of 16 ms (320 / 16 = 20 ticks, rounded down to 16).
    for (let i = 0; i < N; i++) {
      const d = 320 + i;
      wheel.schedule(d, () => {
        late.push(performance.now() - start - d);
        if (late.length === N) resolve();
      });
    }
  });
  for (const l of late) {
    assert.ok(l >= -0.01, `fired ${-l} ms early`);
    assert.ok(l <= 420 / 16 + 8, `fired ${l.toFixed(1)} ms late`);
  }
  assert.ok(wheel.wakeups <= 10, `${wheel.wakeups} wake-ups for timers on a 16 ms grid over 100 ms`);
  wheel.stop();
});

test('a cancelled timer costs no wake-up: the Node timer moves on to the next one', async () => {
  const wheel = new TimerWheel(1);
  let fired = 0;
  const early = wheel.schedule(20, () => fired++);
  wheel.schedule(60, () => fired++);
  wheel.cancel(early);
  // Nothing wakes the loop where the cancelled timer was due (a loaded machine only delays wake-ups).
  await sleep(40);
  assert.equal(wheel.wakeups, 0, 'no wake-up for the cancelled 20 ms timer');
  await sleep(210);
  assert.equal(fired, 1);
  assert.ok(wheel.wakeups >= 1);
  wheel.stop();
});
