import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DialogStamp } from '../../src/proxy/dialog-stamp.js';
import { loadRouteKey, RouteKeyError, ROUTE_KEY_FILE } from '../../src/proxy/route-key.js';
import { recordRouteUri } from '../../src/dialog/interfaces.js';
import { parseUri, isSipUri } from '../../src/sip/uri.js';

/**
 * The Record-Route stamp (src/proxy/dialog-stamp.ts): a keyed hash of the
 * Call-ID and the caller's tag, verified from either side of the dialog;
 * and its key, kept in the data directory across restarts (src/proxy/route-key.ts).
 */

const key = randomBytes(32);

test('a stamp verifies for its dialog from the caller (From tag) and from the callee (To tag)', () => {
  const s = new DialogStamp(key);
  const stamp = s.of('call-1@example.net', 'caller-tag');
  assert.match(stamp, /^[A-Za-z0-9_-]{16}$/);
  assert.equal(s.verifies(stamp, 'call-1@example.net', 'caller-tag', 'callee-tag'), true);
  assert.equal(s.verifies(stamp, 'call-1@example.net', 'callee-tag', 'caller-tag'), true);
});

test('a stamp opens no other dialog: another Call-ID, other tags, another key, a changed character', () => {
  const s = new DialogStamp(key);
  const stamp = s.of('call-1@example.net', 'caller-tag');
  assert.equal(s.verifies(stamp, 'call-2@example.net', 'caller-tag', 'callee-tag'), false);
  assert.equal(s.verifies(stamp, 'call-1@example.net', 'other', 'callee-tag'), false);
  assert.equal(s.verifies(stamp, 'call-1@example.net', null, null), false);
  assert.equal(new DialogStamp(randomBytes(32)).verifies(stamp, 'call-1@example.net', 'caller-tag', null), false);
  const flipped = `${stamp.slice(0, -1)}${stamp.endsWith('A') ? 'B' : 'A'}`;
  assert.equal(s.verifies(flipped, 'call-1@example.net', 'caller-tag', null), false);
  // The separator: ("call-1@example.net", "ab") is not ("call-1@example.neta", "b").
  assert.notEqual(s.of('x', 'ab'), s.of('xa', 'b'));
});

test('malformed stamps are false, never an exception', () => {
  const s = new DialogStamp(key);
  for (const bad of [
    '',
    'x',
    'AAAAAAAAAAAAAAAA',
    'AAAAAAAAAAAAAAAAA',
    '!!!!!!!!!!!!!!!!',
    '%41AAAAAAAAAAAAAA',
    'AAAAAAAAAAAAAA==',
  ]) {
    assert.equal(s.verifies(bad, 'call-1@example.net', 'caller-tag', 'callee-tag'), false, bad);
  }
  assert.throws(() => new DialogStamp(Buffer.alloc(8)), RangeError);
});

test('recordRouteUri carries the stamp as the dsig parameter after lr; without one it is as before', () => {
  const i = { proto: 'tcp' as const, host: '[2001:db8::1]', port: 5070 };
  assert.equal(recordRouteUri(i), 'sip:[2001:db8::1]:5070;transport=tcp;lr');
  const stamp = new DialogStamp(key).of('c', 't');
  const u = parseUri(recordRouteUri(i, stamp));
  assert.ok(isSipUri(u));
  assert.equal(u.params.get('dsig'), stamp);
  assert.equal(u.params.has('lr'), true);
});

test('the key is made once in the data directory (mode 0600) and read back the same after a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trunkline-route-key-'));
  try {
    const data = join(dir, 'data');
    const first = await loadRouteKey(data);
    assert.equal(first.length, 32);
    const file = join(data, ROUTE_KEY_FILE);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const again = await loadRouteKey(data);
    assert.deepEqual(again, first);
    // A dialog stamped before the restart verifies after it.
    const stamp = new DialogStamp(first).of('call@x', 'tag');
    assert.equal(new DialogStamp(again).verifies(stamp, 'call@x', 'tag', null), true);
    assert.match(readFileSync(file, 'utf8'), /^[0-9a-f]{64}\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a key file that holds no key is an error naming the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trunkline-route-key-'));
  try {
    writeFileSync(join(dir, ROUTE_KEY_FILE), 'not a key\n', { mode: 0o600 });
    await assert.rejects(
      loadRouteKey(dir),
      (err: unknown) => err instanceof RouteKeyError && err.message.includes(join(dir, ROUTE_KEY_FILE)),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
