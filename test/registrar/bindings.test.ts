/**
 * The registrar's binding rules without a database (src/registrar/bindings.ts):
 * RFC 3261 10.3 step 7 (the CSeq of the same Call-ID), RFC 5626 flows (a
 * new contact on a flow replaces its binding), expired bindings dropped,
 * removes before sets, the order of the result. The store's tests
 * (test/store/) run the same rules through SQLite and PostgreSQL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkChange,
  planRegister,
  sortBindings,
  type BindingSet,
  type RegisterChange,
} from '../../src/registrar/bindings.js';
import { StaleRegistrationError, ValidationError, type LocationBinding } from '../../src/store/index.js';

const NOW = 1_700_000_000_000;
const AOR = 'alice@example.org';
const INSTANCE = '<urn:uuid:00000000-0000-1000-8000-00a0c91e6bf6>';

let nextId = 1;
function stored(over: Partial<LocationBinding> = {}): LocationBinding {
  return {
    id: nextId++,
    aor: AOR,
    contact: 'sip:alice@192.0.2.1:5060',
    received: null,
    path: [],
    instance: null,
    regId: null,
    callId: 'call-1',
    cseq: 1,
    q: 1,
    expiresAt: NOW + 60_000,
    proto: 'udp',
    localHost: '127.0.0.1',
    localPort: 5060,
    remoteHost: '192.0.2.1',
    remotePort: 5060,
    connectionId: null,
    userAgent: null,
    updatedAt: NOW - 10_000,
    ownerNode: null,
    ownerIncarnation: null,
    ...over,
  };
}

function set(over: Partial<BindingSet> = {}): BindingSet {
  return {
    contact: 'sip:alice@192.0.2.1:5060',
    expiresAt: NOW + 3_600_000,
    proto: 'udp',
    localHost: '127.0.0.1',
    localPort: 5060,
    remoteHost: '192.0.2.1',
    remotePort: 5060,
    ...over,
  };
}

function plan(existing: LocationBinding[], change: Partial<RegisterChange>) {
  return planRegister(existing, checkChange({ aor: AOR, callId: 'call-1', cseq: 2, ...change }, NOW), NOW);
}

test('a new contact is a write with a provisional id; the result has the id the store gave', () => {
  const p = plan([], { set: [set()] });
  assert.deepEqual(p.deleteIds, []);
  assert.equal(p.writes.length, 1);
  const w = p.writes[0]!;
  assert.ok(w.id < 0);
  assert.equal(w.binding.contact, 'sip:alice@192.0.2.1:5060');
  assert.equal(w.binding.updatedAt, NOW);
  const r = p.result(new Map([[w.id, 42]]));
  assert.deepEqual(
    r.bindings.map((b) => [b.id, b.contact, b.cseq]),
    [[42, 'sip:alice@192.0.2.1:5060', 2]],
  );
  assert.deepEqual(r.previous, []);
});

test('RFC 3261 10.3: the same Call-ID with a CSeq not above the stored one is stale; nothing is planned', () => {
  const b = stored({ callId: 'call-1', cseq: 5 });
  for (const cseq of [4, 5]) {
    assert.throws(
      () => plan([b], { cseq, set: [set()] }),
      (err: unknown) => err instanceof StaleRegistrationError && /CSeq \d is not above 5/.test(err.message),
    );
    assert.throws(() => plan([b], { cseq, remove: [{ contact: b.contact }] }), StaleRegistrationError);
    assert.throws(() => plan([b], { cseq, removeAll: true }), StaleRegistrationError);
  }
  // A higher CSeq, or another Call-ID whatever its CSeq, refreshes it in place.
  for (const change of [{ cseq: 6 }, { callId: 'call-2', cseq: 1 }]) {
    const p = plan([b], { ...change, set: [set()] });
    assert.deepEqual(
      p.writes.map((w) => w.id),
      [b.id],
    );
    assert.deepEqual(p.result(new Map()).previous, [b]);
  }
});

test('the CSeq check only concerns the bindings the change touches', () => {
  const other = stored({ contact: 'sip:alice@192.0.2.9:5060', callId: 'call-1', cseq: 9 });
  const p = plan([other], { cseq: 2, set: [set()] });
  const r = p.result(new Map([[p.writes[0]!.id, 100]]));
  assert.deepEqual(r.bindings.map((b) => b.id).sort(), [other.id, 100].sort());
});

test('RFC 5626: a new contact on the same flow (instance, reg-id) replaces the binding in place', () => {
  const old = stored({ contact: 'sip:alice@192.0.2.1:5060', instance: INSTANCE, regId: 1, callId: 'call-1', cseq: 1 });
  const p = plan([old], {
    callId: 'call-2',
    cseq: 1,
    set: [set({ contact: 'sip:alice@192.0.2.2:6000', instance: INSTANCE, regId: 1 })],
  });
  assert.deepEqual(p.deleteIds, []);
  assert.deepEqual(
    p.writes.map((w) => [w.id, w.binding.contact]),
    [[old.id, 'sip:alice@192.0.2.2:6000']],
  );
  const r = p.result(new Map());
  assert.deepEqual(
    r.bindings.map((b) => [b.id, b.contact]),
    [[old.id, 'sip:alice@192.0.2.2:6000']],
  );
  assert.deepEqual(r.previous, [old]);
});

test('another reg-id of the same instance is another flow: both bindings stay', () => {
  const first = stored({ instance: INSTANCE, regId: 1 });
  const p = plan([first], {
    callId: 'call-2',
    cseq: 1,
    set: [set({ contact: 'sip:alice@192.0.2.2:6000', instance: INSTANCE, regId: 2 })],
  });
  assert.equal(p.writes.length, 1);
  assert.ok(p.writes[0]!.id < 0);
  const r = p.result(new Map([[p.writes[0]!.id, 7]]));
  assert.equal(r.bindings.length, 2);
  assert.deepEqual(r.previous, []);
});

test("a contact that is one binding while its flow is another: the contact's is kept, the flow's dropped", () => {
  const byContact = stored({ contact: 'sip:alice@192.0.2.5:5060' });
  const byFlow = stored({ contact: 'sip:alice@192.0.2.6:5060', instance: INSTANCE, regId: 1 });
  const p = plan([byContact, byFlow], {
    callId: 'call-3',
    set: [set({ contact: 'sip:alice@192.0.2.5:5060', instance: INSTANCE, regId: 1 })],
  });
  assert.deepEqual(p.deleteIds, [byFlow.id]);
  assert.deepEqual(
    p.writes.map((w) => w.id),
    [byContact.id],
  );
  const r = p.result(new Map());
  assert.deepEqual(
    r.bindings.map((b) => b.id),
    [byContact.id],
  );
  assert.deepEqual(r.previous.map((b) => b.id).sort(), [byContact.id, byFlow.id].sort());
});

test('expired bindings are deleted, never in the result, and never stale', () => {
  const expired = stored({ expiresAt: NOW, cseq: 99 });
  const p = plan([expired], { cseq: 1, set: [set()] });
  assert.deepEqual(p.deleteIds, [expired.id]);
  const r = p.result(new Map([[p.writes[0]!.id, 50]]));
  assert.deepEqual(
    r.bindings.map((b) => b.id),
    [50],
  );
  assert.deepEqual(r.previous, []);
});

test('Contact: * removes every live binding; removes come before sets', () => {
  const a = stored({ contact: 'sip:alice@192.0.2.1:5060' });
  const b = stored({ contact: 'sip:alice@192.0.2.2:5060' });
  const all = plan([a, b], { callId: 'call-9', removeAll: true }).result(new Map());
  assert.deepEqual(all.bindings, []);
  assert.deepEqual(
    all.previous.map((x) => x.id),
    [a.id, b.id],
  );
  // Removing a contact and setting it again in one REGISTER keeps it.
  const p = plan([a], { callId: 'call-9', remove: [{ contact: a.contact }], set: [set({ contact: a.contact })] });
  const r = p.result(new Map([[p.writes[0]!.id, 60]]));
  assert.deepEqual(
    r.bindings.map((x) => [x.id, x.contact]),
    [[60, a.contact]],
  );
  assert.deepEqual(p.deleteIds, [a.id]);
});

test('the result is ordered by q descending, then most recently updated', () => {
  const low = stored({ q: 0.5, updatedAt: NOW });
  const old = stored({ q: 1, updatedAt: NOW - 5000 });
  const recent = stored({ q: 1, updatedAt: NOW - 1000 });
  assert.deepEqual(
    sortBindings([low, old, recent]).map((b) => b.id),
    [recent.id, old.id, low.id],
  );
});

test('a change is checked before anything is planned, naming the field', () => {
  const check = (c: Partial<RegisterChange>) => () => checkChange({ aor: AOR, callId: 'c', cseq: 1, ...c }, NOW);
  assert.throws(
    check({ set: [set({ expiresAt: NOW })] }),
    (e: unknown) => e instanceof ValidationError && e.field === 'set[0].expiresAt',
  );
  assert.throws(
    check({ set: [set({ q: 2 })] }),
    (e: unknown) => e instanceof ValidationError && e.field === 'set[0].q',
  );
  assert.throws(
    check({ remove: [{ contact: 'sip:x', regId: 1 }] }),
    (e: unknown) => e instanceof ValidationError && e.field === 'remove[0].regId',
  );
  assert.throws(check({ cseq: -1 }), (e: unknown) => e instanceof ValidationError && e.field === 'cseq');
  assert.equal(checkChange({ aor: 'sip:Alice@Example.ORG', callId: 'c', cseq: 1 }, NOW).aor, 'Alice@example.org');
});
