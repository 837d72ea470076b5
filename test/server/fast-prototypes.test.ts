/**
 * The primitives' prototypes keep fast properties in a running server
 * (src/core/fast-prototypes.ts): a dictionary String.prototype makes every
 * `s.charCodeAt(i)` of the parser a generic property load. V8's check needs
 * --allow-natives-syntax, so each case runs in a process of its own
 * (fast-prototypes-child.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FastPrototypesReport } from './fast-prototypes-child.js';

const CHILD = fileURLToPath(new URL('./fast-prototypes-child.js', import.meta.url));

function child(mode: string): FastPrototypesReport {
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', CHILD, mode], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!) as FastPrototypesReport;
}

const ALL_FAST = { String: true, Number: true, Boolean: true, Symbol: true, BigInt: true };

test('a class extending String makes its prototype a dictionary; restoreFastPrototypes makes it fast again', () => {
  const r = child('alone');
  assert.equal(r.before!['String'], false, 'the hazard: class X extends String');
  assert.equal(r.before!['Number'], false, 'the hazard: class X extends Number');
  assert.deepEqual(r.after, ALL_FAST);
});

test("a started server's primitives' prototypes have fast properties (the redis client extends String)", () => {
  assert.deepEqual(child('server').after, ALL_FAST);
});
