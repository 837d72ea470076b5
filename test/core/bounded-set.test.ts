import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedSet } from '../../src/core/bounded-set.js';

test('BoundedSet keeps the newest max members and forgets the oldest first', () => {
  const s = new BoundedSet(3);
  for (const v of ['a', 'b', 'c']) s.add(v);
  assert.equal(s.size, 3);
  s.add('b'); // a member keeps its place: adding it again does not make it newer
  s.add('d');
  assert.deepEqual(
    ['a', 'b', 'c', 'd'].filter((v) => s.has(v)),
    ['b', 'c', 'd'],
    'a, the oldest, went first',
  );
  s.add('e');
  assert.deepEqual(
    ['a', 'b', 'c', 'd', 'e'].filter((v) => s.has(v)),
    ['c', 'd', 'e'],
    'then b, whatever was asked meanwhile',
  );
  for (let i = 0; i < 1000; i++) s.add(`x${i}`);
  assert.equal(s.size, 3);
  assert.deepEqual(
    ['x996', 'x997', 'x998', 'x999'].map((v) => s.has(v)),
    [false, true, true, true],
  );
  s.clear();
  assert.equal(s.size, 0);
  s.add('f');
  assert.ok(s.has('f') && !s.has('x999'));
});

test('BoundedSet refuses a size that is not a positive integer', () => {
  assert.throws(() => new BoundedSet(0), /positive integer/);
  assert.throws(() => new BoundedSet(2.5), /positive integer/);
});
