/**
 * Location bindings: the registrar's AOR -> Contact table.
 *
 * A binding is keyed like RFC 5626 says: when the Contact carries
 * +sip.instance, by (aor, instance, reg-id) (a flow; a new REGISTER on the
 * same flow replaces the binding even when the Contact URI changed);
 * otherwise by (aor, contact) as in RFC 3261. Contact URIs are compared as
 * strings: the registrar passes them in its normal form.
 *
 * A binding is live while expires_at > now; expired rows are ignored by
 * every read, dropped when their AOR is next written, and removed in bulk by
 * `purgeExpired()`.
 *
 * Location writes do not move Store.changes(): registrations are frequent
 * and the location table is always read from the store, never cached.
 */
import { sql, type Kysely } from 'kysely';
import { count, type StoreContext } from '../context.js';
import { StaleRegistrationError, ValidationError } from '../errors.js';
import type { Database, LocationTable } from '../schema.js';
import { checkInt, checkOptionalText, checkText, normalizeAor } from '../validate.js';

export const BINDING_PROTOS = ['udp', 'tcp', 'tls', 'ws', 'wss', 'sctp'] as const;
export type BindingProto = (typeof BINDING_PROTOS)[number];

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
}

/** One binding for `upsert`: a BindingSet with its AOR, Call-ID and CSeq. */
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

export interface LocationBinding {
  id: number;
  aor: string;
  contact: string;
  received: string | null;
  path: string[];
  instance: string | null;
  regId: number | null;
  callId: string;
  cseq: number;
  q: number;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  proto: string;
  localHost: string;
  localPort: number;
  remoteHost: string;
  remotePort: number;
  connectionId: string | null;
  userAgent: string | null;
  updatedAt: number;
}

export interface RegisterResult {
  /** The AOR's live bindings after the change, by q descending then most recent. */
  bindings: LocationBinding[];
  /** Live bindings the change replaced or removed, as they were. */
  previous: LocationBinding[];
}

type Row = Omit<LocationTable, 'id'> & { id: number };

function toBinding(row: Row): LocationBinding {
  let path: string[] = [];
  if (row.path !== '[]') {
    try {
      const parsed: unknown = JSON.parse(row.path);
      if (Array.isArray(parsed)) path = parsed.map(String);
    } catch {
      // a hand-edited row: treat as no Path
    }
  }
  return {
    id: row.id,
    aor: row.aor,
    contact: row.contact,
    received: row.received,
    path,
    instance: row.instance,
    regId: row.reg_id,
    callId: row.call_id,
    cseq: row.cseq,
    q: row.q,
    expiresAt: row.expires_at,
    proto: row.proto,
    localHost: row.local_host,
    localPort: row.local_port,
    remoteHost: row.remote_host,
    remotePort: row.remote_port,
    connectionId: row.connection_id,
    userAgent: row.user_agent,
    updatedAt: row.updated_at,
  };
}

const MAX_CSEQ = 2 ** 31 - 1;

function checkKey(k: BindingKey, field: string): { contact: string; instance: string | null; regId: number | null } {
  if (k === null || typeof k !== 'object') throw new ValidationError(field, 'expected a binding');
  const contact = checkText(k.contact, `${field}.contact`);
  const instance = checkOptionalText(k.instance, `${field}.instance`, 512);
  const regId = k.regId === undefined || k.regId === null ? null : checkInt(k.regId, `${field}.regId`, 1, MAX_CSEQ);
  if (regId !== null && instance === null) throw new ValidationError(`${field}.regId`, 'needs an instance');
  return { contact, instance, regId };
}

/** Whether a row is the binding `key` names, or holds the same contact. */
function matches(row: Row, key: { contact: string; instance: string | null; regId: number | null }): boolean {
  if (row.contact === key.contact) return true;
  return key.instance !== null && row.instance === key.instance && (row.reg_id ?? null) === key.regId;
}

export class LocationRepo {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /**
   * Serializes writers of one AOR: SQLite's BEGIN IMMEDIATE already does;
   * on PostgreSQL a transaction-scoped advisory lock on the AOR's hash.
   */
  async #lock(db: Kysely<Database>, aor: string): Promise<void> {
    if (this.#ctx.dialect === 'postgres') {
      await sql`select pg_advisory_xact_lock(4201, hashtext(${aor}))`.execute(db);
    }
  }

  /** Adds or refreshes one binding; see `register`. */
  async upsert(b: BindingInput): Promise<{ binding: LocationBinding; previous: LocationBinding | undefined }> {
    const { aor, callId, cseq, ...set } = b;
    const result = await this.register({ aor, callId, cseq, set: [set] });
    const key = checkKey(set, 'set[0]');
    const binding = result.bindings.find((x) => x.contact === key.contact);
    if (binding === undefined) throw new Error('location: upserted binding not found'); // cannot happen
    return { binding, previous: result.previous[0] };
  }

  /**
   * Applies one REGISTER's changes to an AOR in one transaction: removes
   * (`removeAll`, `remove`), then adds or refreshes (`set`), in that order.
   * RFC 3261 10.3 step 7: when a binding it would change was last set with
   * the same Call-ID and a CSeq not below this one, nothing is written and
   * StaleRegistrationError is thrown.
   */
  async register(change: RegisterChange): Promise<RegisterResult> {
    const aor = normalizeAor(change.aor);
    const callId = checkText(change.callId, 'callId', 1024);
    const cseq = checkInt(change.cseq, 'cseq', 0, MAX_CSEQ);
    const now = this.#ctx.now();
    const removes = (change.remove ?? []).map((k, i) => checkKey(k, `remove[${i}]`));
    const sets = (change.set ?? []).map((s, i) => {
      const field = `set[${i}]`;
      const key = checkKey(s, field);
      const expiresAt = checkInt(s.expiresAt, `${field}.expiresAt`, 0, Number.MAX_SAFE_INTEGER);
      if (expiresAt <= now) throw new ValidationError(`${field}.expiresAt`, 'must be in the future');
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
      const row: Omit<LocationTable, 'id'> = {
        aor,
        contact: key.contact,
        received: checkOptionalText(s.received, `${field}.received`),
        path: JSON.stringify(path),
        instance: key.instance,
        reg_id: key.regId,
        call_id: callId,
        cseq,
        q,
        expires_at: expiresAt,
        proto: s.proto,
        local_host: checkText(s.localHost, `${field}.localHost`, 255),
        local_port: checkInt(s.localPort, `${field}.localPort`, 1, 65535),
        remote_host: checkText(s.remoteHost, `${field}.remoteHost`, 255),
        remote_port: checkInt(s.remotePort, `${field}.remotePort`, 1, 65535),
        connection_id: checkOptionalText(s.connectionId, `${field}.connectionId`, 255),
        user_agent: checkOptionalText(s.userAgent, `${field}.userAgent`, 512),
        updated_at: now,
      };
      return { key, row };
    });

    const build = (all: Row[]): Plan => plan(all, now, aor, callId, cseq, change.removeAll === true, removes, sets);
    // SQLite: the whole change as prepared statements in one synchronous
    // transaction when the write lock is free (the common case); else the
    // Kysely transaction, which waits for it.
    const fast = this.#ctx.syncTx((run, rows) => {
      const p = build(rows(SQL_SELECT_AOR).all(aor).map(rowOf));
      const del = run(SQL_DELETE_ID);
      for (const id of p.deleteIds) del.run(id);
      const ids = new Map<number, number>();
      for (const w of p.writes) {
        const values = [w.row.aor, w.row.contact, w.row.received, w.row.path, w.row.instance, w.row.reg_id, w.row.call_id, w.row.cseq, w.row.q,
          w.row.expires_at, w.row.proto, w.row.local_host, w.row.local_port, w.row.remote_host, w.row.remote_port, w.row.connection_id,
          w.row.user_agent, w.row.updated_at];
        if (w.id > 0) run(SQL_UPDATE_ID).run(...values, w.id);
        else ids.set(w.id, Number(run(SQL_INSERT).run(...values).lastInsertRowid));
      }
      return p.result(ids);
    });
    if (fast !== undefined) return fast.value;
    return this.#ctx.tx(async (db) => {
      await this.#lock(db, aor);
      const p = build(await db.selectFrom('location').selectAll().where('aor', '=', aor).execute());
      if (p.deleteIds.length > 0) await db.deleteFrom('location').where('id', 'in', p.deleteIds).execute();
      const ids = new Map<number, number>();
      for (const w of p.writes) {
        if (w.id > 0) await db.updateTable('location').set(w.row).where('id', '=', w.id).execute();
        else ids.set(w.id, (await db.insertInto('location').values(w.row).returning('id').executeTakeFirstOrThrow()).id);
      }
      return p.result(ids);
    });
  }

  /** Removes the binding `key` names from an AOR; how many rows went (0 or 1, rarely 2). */
  async remove(aor: string, key: BindingKey): Promise<number> {
    const a = normalizeAor(aor);
    const k = checkKey(key, 'binding');
    return this.#ctx.tx(async (db) => {
      await this.#lock(db, a);
      let q = db.deleteFrom('location').where('aor', '=', a);
      q =
        k.instance === null
          ? q.where('contact', '=', k.contact)
          : q.where((eb) =>
              eb.or([
                eb('contact', '=', k.contact),
                eb.and([
                  eb('instance', '=', k.instance),
                  k.regId === null ? eb('reg_id', 'is', null) : eb('reg_id', '=', k.regId),
                ]),
              ]),
            );
      return count((await q.executeTakeFirst()).numDeletedRows);
    });
  }

  /** Removes every binding of an AOR (live or not); how many went. */
  async removeAll(aor: string): Promise<number> {
    const a = normalizeAor(aor);
    return this.#ctx.tx(async (db) => {
      await this.#lock(db, a);
      return count((await db.deleteFrom('location').where('aor', '=', a).executeTakeFirst()).numDeletedRows);
    });
  }

  /** An AOR's live bindings, by q descending, then most recently updated first. */
  async listForAor(aor: string, now = this.#ctx.now()): Promise<LocationBinding[]> {
    const a = normalizeAor(aor);
    const rows = await this.#ctx.db
      .selectFrom('location')
      .selectAll()
      .where('aor', '=', a)
      .where('expires_at', '>', now)
      .orderBy('q', 'desc')
      .orderBy('updated_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
    return rows.map(toBinding);
  }

  /** Every live binding, by AOR, then as listForAor. */
  async listLive(now = this.#ctx.now()): Promise<LocationBinding[]> {
    const rows = await this.#ctx.db
      .selectFrom('location')
      .selectAll()
      .where('expires_at', '>', now)
      .orderBy(this.#ctx.orderText('aor'))
      .orderBy('q', 'desc')
      .orderBy('updated_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
    return rows.map(toBinding);
  }

  /**
   * Live bindings with a `received` address (NATed contacts), by id, those
   * with an id above `afterId`, at most `limit`: a keep-alive walks them a
   * page per tick.
   */
  async listLiveReceived(afterId: number, limit: number, now = this.#ctx.now()): Promise<LocationBinding[]> {
    const rows = await this.#ctx.db
      .selectFrom('location')
      .selectAll()
      .where('expires_at', '>', now)
      .where('received', 'is not', null)
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map(toBinding);
  }

  /** Deletes every expired binding (expires_at <= now); how many went. */
  async purgeExpired(now = this.#ctx.now()): Promise<number> {
    return this.#ctx.tx(async (db) => {
      const r = await db.deleteFrom('location').where('expires_at', '<=', now).executeTakeFirst();
      return count(r.numDeletedRows);
    });
  }
}

const COLUMNS = [
  'aor', 'contact', 'received', 'path', 'instance', 'reg_id', 'call_id', 'cseq', 'q', 'expires_at', 'proto',
  'local_host', 'local_port', 'remote_host', 'remote_port', 'connection_id', 'user_agent', 'updated_at',
] as const;
const SQL_SELECT_AOR = `select "id", ${COLUMNS.map((c) => `"${c}"`).join(', ')} from "location" where "aor" = ?`;

/** A row of SQL_SELECT_AOR in raw mode (id, then COLUMNS in order) as a Row. */
function rowOf(v: unknown[]): Row {
  return {
    id: v[0] as number,
    aor: v[1] as string,
    contact: v[2] as string,
    received: v[3] as string | null,
    path: v[4] as string,
    instance: v[5] as string | null,
    reg_id: v[6] as number | null,
    call_id: v[7] as string,
    cseq: v[8] as number,
    q: v[9] as number,
    expires_at: v[10] as number,
    proto: v[11] as string,
    local_host: v[12] as string,
    local_port: v[13] as number,
    remote_host: v[14] as string,
    remote_port: v[15] as number,
    connection_id: v[16] as string | null,
    user_agent: v[17] as string | null,
    updated_at: v[18] as number,
  };
}
const SQL_DELETE_ID = 'delete from "location" where "id" = ?';
const SQL_UPDATE_ID = `update "location" set ${COLUMNS.map((c) => `"${c}" = ?`).join(', ')} where "id" = ?`;
const SQL_INSERT = `insert into "location" (${COLUMNS.map((c) => `"${c}"`).join(', ')}) values (${COLUMNS.map(() => '?').join(', ')})`;

type Key = { contact: string; instance: string | null; regId: number | null };

/**
 * What one REGISTER does to an AOR's rows, worked out before any write:
 * the rows to delete (expired ones, and those removed or replaced), the
 * rows to update in place (id > 0) or insert (a provisional id < 0), and
 * the result once the inserted rows have their ids. Throws
 * StaleRegistrationError (nothing is written then) when a binding it would
 * change was last set with the same Call-ID and a CSeq not below this one.
 */
interface Plan {
  deleteIds: number[];
  writes: Array<{ id: number; row: Omit<LocationTable, 'id'> }>;
  result(insertedIds: Map<number, number>): RegisterResult;
}

function plan(
  all: Row[],
  now: number,
  aor: string,
  callId: string,
  cseq: number,
  removeAll: boolean,
  removes: Key[],
  sets: Array<{ key: Key; row: Omit<LocationTable, 'id'> }>,
): Plan {
  const deleteIds: number[] = [];
  let live: Row[] = [];
  for (const r of all) {
    if (r.expires_at <= now) deleteIds.push(r.id);
    else live.push(r);
  }
  const previous: Row[] = [];
  const writes = new Map<number, Omit<LocationTable, 'id'>>();
  let nextNew = -1;

  const stale = (rows: Row[]): void => {
    for (const r of rows) {
      if (r.call_id === callId && r.cseq >= cseq) {
        throw new StaleRegistrationError(`binding ${r.contact} of ${aor}: CSeq ${cseq} is not above ${r.cseq} for the same Call-ID`);
      }
    }
  };
  const drop = (rows: Row[]): void => {
    for (const r of rows) {
      live = live.filter((x) => x !== r);
      writes.delete(r.id);
      if (r.id > 0) {
        deleteIds.push(r.id);
        if (!previous.some((p) => p.id === r.id)) previous.push(r);
      }
    }
  };

  if (removeAll) {
    stale(live);
    drop(live);
  }
  for (const key of removes) {
    const hit = live.filter((r) => matches(r, key));
    stale(hit);
    drop(hit);
  }
  for (const { key, row } of sets) {
    const hit = live.filter((r) => matches(r, key));
    stale(hit);
    // Keep the row with this contact (or the flow's row) and update it in place.
    const keep = hit.find((r) => r.contact === key.contact) ?? hit[0];
    drop(hit.filter((r) => r !== keep));
    const id = keep?.id ?? nextNew--;
    if (keep !== undefined && keep.id > 0 && !previous.some((p) => p.id === keep.id)) previous.push(keep);
    writes.set(id, row);
    const updated: Row = { ...row, id };
    live = keep === undefined ? [...live, updated] : live.map((r) => (r === keep ? updated : r));
  }
  return {
    deleteIds,
    writes: [...writes].map(([id, row]) => ({ id, row })),
    result(insertedIds) {
      const rows = live.map((r) => (r.id < 0 ? { ...r, id: insertedIds.get(r.id)! } : r));
      return { bindings: sortBindings(rows).map(toBinding), previous: previous.map(toBinding) };
    },
  };
}

function sortBindings(rows: Row[]): Row[] {
  return [...rows].sort((a, b) => b.q - a.q || b.updated_at - a.updated_at || b.id - a.id);
}
