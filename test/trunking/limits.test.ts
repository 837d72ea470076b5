import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CallLimiter, CpmWindow } from '../../src/trunking/limits.js';

test('CPM window: the 21st call within a minute is refused, and passes when the window moves', () => {
  const w = new CpmWindow(20);
  for (let i = 0; i < 20; i++) {
    assert.equal(w.allows(1000 + i * 100), true, `call ${i + 1}`);
    w.record(1000 + i * 100);
  }
  assert.equal(w.allows(5000), false);
  assert.equal(w.retryAfter(5000), 56); // the first call (t=1000) leaves the window at 61000
  assert.equal(w.allows(60_999), false);
  assert.equal(w.allows(61_000), true);
  assert.equal(w.count(61_000), 19);
});

test('CPM window: lowering the limit keeps the latest starts', () => {
  const w = new CpmWindow(5);
  for (let i = 0; i < 5; i++) w.record(i);
  w.setLimit(3);
  assert.equal(w.allows(10), false);
  w.setLimit(10);
  assert.equal(w.allows(10), true);
  assert.equal(w.count(10), 3);
});

test('limiter: concurrent calls per scope, released once', () => {
  const l = new CallLimiter(() => 0);
  const scopes = [{ key: 'trunk:t', cpm: null, maxCalls: 2 }];
  const a = l.tryStart(scopes);
  const b = l.tryStart(scopes);
  assert.ok(a.ok && b.ok);
  const c = l.tryStart(scopes);
  assert.equal(c.ok, false);
  if (!c.ok) assert.deepEqual([c.key, c.kind], ['trunk:t', 'concurrent']);
  if (a.ok) {
    a.release();
    a.release(); // idempotent
  }
  assert.equal(l.usage('trunk:t').active, 1);
  assert.equal(l.tryStart(scopes).ok, true);
});

test('limiter: hierarchical, a refusal by the account costs the trunk nothing', () => {
  let now = 0;
  const l = new CallLimiter(() => now);
  const account = { key: 'account:acme', cpm: 2, maxCalls: null };
  const t1 = [account, { key: 'trunk:one', cpm: 10, maxCalls: null }];
  const t2 = [account, { key: 'trunk:two', cpm: 10, maxCalls: null }];
  assert.equal(l.tryStart(t1).ok, true);
  assert.equal(l.tryStart(t2).ok, true);
  const refused = l.tryStart(t1);
  assert.equal(refused.ok, false);
  if (!refused.ok) assert.equal(refused.key, 'account:acme');
  assert.equal(l.usage('trunk:one').lastMinute, 1, 'the refused call was not counted on its trunk');
  now = 60_000;
  assert.equal(l.tryStart(t1).ok, true, 'the window moved');
});
