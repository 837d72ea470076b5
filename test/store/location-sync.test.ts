import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import Sqlite from 'better-sqlite3';
import { openStore, StaleRegistrationError, type Store } from '../../src/store/index.js';
import { registerBindings, type BindingSet } from '../../src/registrar/bindings.js';

/**
 * The REGISTER write path on SQLite runs as prepared statements in one
 * synchronous transaction when it can start at once, and falls back to the
 * Kysely transaction (which waits) when it cannot: while a transaction of
 * the same connection is open, and while another connection (the CLI)
 * holds the write lock. Both paths give the same result, and nothing is
 * lost or half-written.
 */
const AOR = 'alice@example.org';
let dir: string;
let file: string;
let store: Store;

const set = (contact: string, over: Partial<BindingSet> = {}): BindingSet => ({
  contact,
  expiresAt: Date.now() + 60_000,
  proto: 'udp',
  localHost: '127.0.0.1',
  localPort: 5060,
  remoteHost: '192.0.2.10',
  remotePort: 5060,
  ...over,
});

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'location-sync-'));
  file = join(dir, 'trunkline.db');
  store = await openStore({ kind: 'sqlite', file }, { env: {} });
});

after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('while a transaction of the same connection is open, register waits for it and then applies', async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let inside = false;
  const tx = store.ctx.tx(async () => {
    inside = true;
    await held;
  });
  while (!inside) await new Promise((r) => setImmediate(r));
  let done = false;
  const reg = registerBindings(store.location, {
    aor: AOR,
    callId: 'c1',
    cseq: 1,
    set: [set('sip:alice@192.0.2.10:5060')],
  }).then((r) => {
    done = true;
    return r;
  });
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(done, false, 'must not write inside the other transaction');
  release();
  await tx;
  const r = await reg;
  assert.deepEqual(
    r.bindings.map((b) => b.contact),
    ['sip:alice@192.0.2.10:5060'],
  );
  assert.equal((await store.location.listForAor(AOR)).length, 1);
});

test('while another connection holds the write lock, register waits (without blocking the event loop) and then applies', async () => {
  const other = new Sqlite(file);
  try {
    other.exec('BEGIN IMMEDIATE');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const reg = registerBindings(store.location, {
      aor: AOR,
      callId: 'c1',
      cseq: 2,
      set: [set('sip:alice@192.0.2.10:5060'), set('sip:alice@192.0.2.11:5060')],
    });
    await new Promise((r) => setTimeout(r, 100));
    other.exec('COMMIT');
    const r = await reg;
    clearInterval(timer);
    assert.ok(ticks >= 5, `the event loop ran while waiting (${ticks} ticks)`);
    assert.deepEqual(r.bindings.map((b) => b.contact).sort(), [
      'sip:alice@192.0.2.10:5060',
      'sip:alice@192.0.2.11:5060',
    ]);
    assert.equal(r.previous.length, 1, 'the first binding was refreshed');
  } finally {
    other.close();
  }
});

test('the synchronous path: a stale CSeq writes nothing; expired rows go; q kept per binding', async () => {
  await assert.rejects(
    registerBindings(store.location, {
      aor: AOR,
      callId: 'c1',
      cseq: 2,
      set: [set('sip:alice@192.0.2.10:5060'), set('sip:alice@192.0.2.12:5060')],
    }),
    StaleRegistrationError,
  );
  assert.equal((await store.location.listForAor(AOR)).length, 2);
  // An expired row of the AOR is removed by the next write.
  await registerBindings(store.location, {
    aor: AOR,
    callId: 'c2',
    cseq: 1,
    set: [set('sip:alice@192.0.2.13:5060', { expiresAt: Date.now() + 30 })],
  });
  await new Promise((r) => setTimeout(r, 40));
  const r = await registerBindings(store.location, {
    aor: AOR,
    callId: 'c3',
    cseq: 1,
    set: [set('sip:alice@192.0.2.14:5060', { q: 0.7 })],
  });
  assert.deepEqual(r.bindings.map((b) => b.contact).sort(), [
    'sip:alice@192.0.2.10:5060',
    'sip:alice@192.0.2.11:5060',
    'sip:alice@192.0.2.14:5060',
  ]);
  assert.deepEqual(
    r.bindings.map((b) => b.q),
    [1, 1, 0.7],
    'by q',
  );
  const raw = new Sqlite(file, { readonly: true });
  try {
    const rows = raw.prepare('select contact from location where aor = ? order by contact').all(AOR) as Array<{
      contact: string;
    }>;
    assert.deepEqual(
      rows.map((x) => x.contact),
      ['sip:alice@192.0.2.10:5060', 'sip:alice@192.0.2.11:5060', 'sip:alice@192.0.2.14:5060'],
    );
  } finally {
    raw.close();
  }
  // Contact * with Expires 0 removes all.
  const all = await registerBindings(store.location, { aor: AOR, callId: 'c4', cseq: 1, removeAll: true });
  assert.deepEqual(all.bindings, []);
  assert.equal(all.previous.length, 3);
});
