/**
 * The registrar's rules over one AOR's bindings (RFC 3261 10.3, RFC 5626),
 * apart from any database: given the bindings stored and one REGISTER's
 * change, what to delete, update and insert, and the bindings after it.
 * The location repository (src/store/repos/location.ts) only reads and
 * writes rows, in one transaction, as `update(aor, plan)` is told.
 *
 * A binding is keyed like RFC 5626 says: when the Contact carries
 * +sip.instance, by (aor, instance, reg-id) (a flow: a new REGISTER on the
 * same flow replaces the binding even when the Contact URI changed);
 * otherwise by (aor, contact) as in RFC 3261. Contact URIs are compared as
 * strings: the registrar passes them in its normal form.
 *
 * A binding is live while expiresAt > now; expired ones are dropped when
 * their AOR is next written.
 */
import { StaleRegistrationError, ValidationError } from '../store/errors.js';
import {
  BINDING_PROTOS,
  type BindingOwner,
  type BindingProto,
  type LocationBinding,
  type LocationWrite,
  type NewBinding,
} from '../store/repos/location.js';
import { checkInt, checkOptionalText, checkText, normalizeAor } from '../store/validate.js';

/** Which binding: by flow when `instance` is given, else by contact. */
export interface BindingKey {
  contact: string;
  /** +sip.instance value (e.g. `<urn:uuid:...>`), when the Contact had one. */
  instance?: string | null;
  /** reg-id, when the Contact had one (meaningful with `instance`). */
  regId?: number | null;
}

/** One Contact of a REGISTER to add or refresh. */
export interface BindingSet extends BindingKey {
  /** Milliseconds since the epoch; must be in the future. */
  expiresAt: number;
  /** 0..1; default 1. */
  q?: number;
  received?: string | null;
  /** Path header values (RFC 3327), outermost first. */
  path?: string[];
  proto: BindingProto;
  localHost: string;
  localPort: number;
  remoteHost: string;
  remotePort: number;
  /** The transport's connection id (stream transports), null for UDP. */
  connectionId?: string | null;
  userAgent?: string | null;
  /** In a cluster: the node that took the REGISTER (it holds the flow); absent or null alone. */
  owner?: BindingOwner | null;
}

/** One binding for `upsertBinding`: a BindingSet with its AOR, Call-ID and CSeq. */
export interface BindingInput extends BindingSet {
  aor: string;
  callId: string;
  cseq: number;
}

/** Every change one REGISTER makes to one AOR; applied all or nothing. */
export interface RegisterChange {
  aor: string;
  callId: string;
  cseq: number;
  set?: BindingSet[];
  remove?: BindingKey[];
  /** `Contact: *` with Expires: 0: every binding of the AOR. */
  removeAll?: boolean;
}

export interface RegisterResult {
  /** The AOR's live bindings after the change, by q descending then most recent. */
  bindings: LocationBinding[];
  /** Live bindings the change replaced or removed, as they were. */
  previous: LocationBinding[];
}

/** Where bindings are kept: the location repository, or anything that reads and writes an AOR's rows as it does. */
export interface BindingStore {
  /** The store's clock, milliseconds since the epoch. */
  now(): number;
  /** Reads the AOR's bindings (expired ones too), applies what `plan` says, in one transaction. */
  update<R>(aor: string, plan: (stored: LocationBinding[]) => LocationWrite<R>): Promise<R>;
}

/** A key checked: absent parts are null. */
export interface Key {
  contact: string;
  instance: string | null;
  regId: number | null;
}

/** A change checked: every value of the right type and size, the AOR normalized. */
export interface CheckedChange {
  aor: string;
  callId: string;
  cseq: number;
  removeAll: boolean;
  removes: Key[];
  sets: Array<{ key: Key; binding: NewBinding }>;
}

const MAX_CSEQ = 2 ** 31 - 1;

export function checkKey(k: BindingKey, field: string): Key {
  if (k === null || typeof k !== 'object') throw new ValidationError(field, 'expected a binding');
  const contact = checkText(k.contact, `${field}.contact`);
  const instance = checkOptionalText(k.instance, `${field}.instance`, 512);
  const regId = k.regId === undefined || k.regId === null ? null : checkInt(k.regId, `${field}.regId`, 1, MAX_CSEQ);
  if (regId !== null && instance === null) throw new ValidationError(`${field}.regId`, 'needs an instance');
  return { contact, instance, regId };
}

/** One REGISTER's change checked at `now` (an expiry must be in the future); ValidationError names the first bad field. */
export function checkChange(change: RegisterChange, now: number): CheckedChange {
  const aor = normalizeAor(change.aor);
  const callId = checkText(change.callId, 'callId', 1024);
  const cseq = checkInt(change.cseq, 'cseq', 0, MAX_CSEQ);
  const removes = (change.remove ?? []).map((k, i) => checkKey(k, `remove[${i}]`));
  const sets = (change.set ?? []).map((s, i) => checkSet(s, `set[${i}]`, { aor, callId, cseq, now }));
  return { aor, callId, cseq, removeAll: change.removeAll === true, removes, sets };
}

function checkSet(
  s: BindingSet,
  field: string,
  c: { aor: string; callId: string; cseq: number; now: number },
): { key: Key; binding: NewBinding } {
  const key = checkKey(s, field);
  const expiresAt = checkInt(s.expiresAt, `${field}.expiresAt`, 0, Number.MAX_SAFE_INTEGER);
  if (expiresAt <= c.now) throw new ValidationError(`${field}.expiresAt`, 'must be in the future');
  const q = s.q ?? 1;
  if (typeof q !== 'number' || !(q >= 0 && q <= 1)) {
    throw new ValidationError(`${field}.q`, `expected a number from 0 to 1, got ${String(q)}`);
  }
  if (!(BINDING_PROTOS as readonly string[]).includes(s.proto)) {
    throw new ValidationError(`${field}.proto`, `expected one of ${BINDING_PROTOS.join(', ')}, got ${String(s.proto)}`);
  }
  const path = s.path ?? [];
  if (!Array.isArray(path)) throw new ValidationError(`${field}.path`, 'expected a list');
  path.forEach((p, j) => checkText(p, `${field}.path[${j}]`));
  const owner = s.owner ?? null;
  const binding: NewBinding = {
    aor: c.aor,
    contact: key.contact,
    received: checkOptionalText(s.received, `${field}.received`),
    path: [...path],
    instance: key.instance,
    regId: key.regId,
    callId: c.callId,
    cseq: c.cseq,
    q,
    expiresAt,
    proto: s.proto,
    localHost: checkText(s.localHost, `${field}.localHost`, 255),
    localPort: checkInt(s.localPort, `${field}.localPort`, 1, 65535),
    remoteHost: checkText(s.remoteHost, `${field}.remoteHost`, 255),
    remotePort: checkInt(s.remotePort, `${field}.remotePort`, 1, 65535),
    connectionId: checkOptionalText(s.connectionId, `${field}.connectionId`, 255),
    userAgent: checkOptionalText(s.userAgent, `${field}.userAgent`, 512),
    updatedAt: c.now,
    ownerNode: owner === null ? null : checkText(owner.node, `${field}.owner.node`, 64),
    ownerIncarnation: owner === null ? null : checkText(owner.incarnation, `${field}.owner.incarnation`, 128),
  };
  return { key, binding };
}

/** Whether a binding is the one `key` names, or holds the same contact (RFC 5626 4.2: the flow's binding). */
export function sameBinding(b: LocationBinding, key: Key): boolean {
  if (b.contact === key.contact) return true;
  return key.instance !== null && b.instance === key.instance && b.regId === key.regId;
}

/**
 * What one REGISTER does to an AOR's stored bindings, worked out before any
 * write: removes (`removeAll`, `remove`), then adds or refreshes (`set`),
 * in that order; expired bindings are deleted on the way. RFC 3261 10.3
 * step 7: when a binding it would change was last set with the same
 * Call-ID and a CSeq not below this one, StaleRegistrationError is thrown
 * (and nothing is written). New bindings get provisional ids below 0 until
 * the store gives them theirs.
 */
export function planRegister(
  stored: readonly LocationBinding[],
  change: CheckedChange,
  now: number,
): LocationWrite<RegisterResult> {
  const { aor, callId, cseq } = change;
  const deleteIds: number[] = [];
  let live: LocationBinding[] = [];
  for (const b of stored) {
    if (b.expiresAt <= now) deleteIds.push(b.id);
    else live.push(b);
  }
  const previous: LocationBinding[] = [];
  const writes = new Map<number, NewBinding>();
  let nextNew = -1;

  const stale = (hit: LocationBinding[]): void => {
    for (const b of hit) {
      if (b.callId === callId && b.cseq >= cseq) {
        throw new StaleRegistrationError(
          `binding ${b.contact} of ${aor}: CSeq ${cseq} is not above ${b.cseq} for the same Call-ID`,
        );
      }
    }
  };
  const drop = (hit: LocationBinding[]): void => {
    for (const b of hit) {
      live = live.filter((x) => x !== b);
      writes.delete(b.id);
      if (b.id > 0) {
        deleteIds.push(b.id);
        if (!previous.some((p) => p.id === b.id)) previous.push(b);
      }
    }
  };

  if (change.removeAll) {
    stale(live);
    drop(live);
  }
  for (const key of change.removes) {
    const hit = live.filter((b) => sameBinding(b, key));
    stale(hit);
    drop(hit);
  }
  for (const { key, binding } of change.sets) {
    const hit = live.filter((b) => sameBinding(b, key));
    stale(hit);
    // Keep the binding with this contact (or the flow's) and update it in place.
    const keep = hit.find((b) => b.contact === key.contact) ?? hit[0];
    drop(hit.filter((b) => b !== keep));
    const id = keep?.id ?? nextNew--;
    if (keep !== undefined && keep.id > 0 && !previous.some((p) => p.id === keep.id)) previous.push(keep);
    writes.set(id, binding);
    // id first: properties after a spread make V8 (node 20) rebuild the object slowly.
    const updated: LocationBinding = { id, ...binding };
    live = keep === undefined ? [...live, updated] : live.map((b) => (b === keep ? updated : b));
  }
  return {
    deleteIds,
    writes: [...writes].map(([id, b]) => ({ id, binding: b })),
    result(insertedIds) {
      const after = live.map((b) => (b.id < 0 ? { ...b, id: insertedIds.get(b.id)! } : b));
      return { bindings: sortBindings(after), previous };
    },
  };
}

/** The order of a 200 OK's contacts and of the location stage's targets: q descending, then most recently updated. */
export function sortBindings(bindings: readonly LocationBinding[]): LocationBinding[] {
  return [...bindings].sort((a, b) => b.q - a.q || b.updatedAt - a.updatedAt || b.id - a.id);
}

/** Applies one REGISTER's changes to an AOR, all or nothing (see planRegister). */
export function registerBindings(store: BindingStore, change: RegisterChange): Promise<RegisterResult> {
  const now = store.now();
  const checked = checkChange(change, now);
  return store.update(checked.aor, (stored) => planRegister(stored, checked, now));
}

/** Adds or refreshes one binding; see registerBindings. */
export async function upsertBinding(
  store: BindingStore,
  b: BindingInput,
): Promise<{ binding: LocationBinding; previous: LocationBinding | undefined }> {
  const { aor, callId, cseq, ...set } = b;
  const result = await registerBindings(store, { aor, callId, cseq, set: [set] });
  const key = checkKey(set, 'set[0]');
  const binding = result.bindings.find((x) => x.contact === key.contact);
  if (binding === undefined) throw new Error('location: upserted binding not found'); // cannot happen
  return { binding, previous: result.previous[0] };
}

/** Removes the binding `key` names from an AOR, live or not; how many went (0 or 1, rarely 2). */
export function removeBinding(store: BindingStore, aor: string, key: BindingKey): Promise<number> {
  const a = normalizeAor(aor);
  const k = checkKey(key, 'binding');
  return store.update(a, (stored) => {
    const deleteIds = stored.filter((b) => sameBinding(b, k)).map((b) => b.id);
    return { deleteIds, writes: [], result: () => deleteIds.length };
  });
}
