/**
 * Location bindings: the registrar's AOR -> Contact table, as rows. What a
 * REGISTER does to them (RFC 3261 10.3, RFC 5626) is the registrar's
 * (src/registrar/bindings.ts): this repository reads an AOR's bindings and
 * writes what the registrar's plan says, in one transaction.
 *
 * A binding is live while expires_at > now; expired rows are ignored by
 * every read, dropped when their AOR is next written, and removed in bulk by
 * `purgeExpired()`.
 *
 * Location writes do not move Store.changes(): registrations are frequent
 * and the location table is always read from the store, never cached.
 */
import { sql, type Kysely } from 'kysely';
import type BetterSqlite3 from 'better-sqlite3';
import { count, type StoreContext } from '../context.js';
import type { Database, LocationTable } from '../schema.js';
import { normalizeAor } from '../validate.js';

export const BINDING_PROTOS = ['udp', 'tcp', 'tls', 'ws', 'wss', 'sctp'] as const;
export type BindingProto = (typeof BINDING_PROTOS)[number];

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
  /** In a cluster: the node that took the REGISTER and holds its flow, and that node's incarnation; null alone. */
  ownerNode: string | null;
  ownerIncarnation: string | null;
}

/** A cluster node's run: its id and incarnation (src/cluster/nodes.ts). */
export interface BindingOwner {
  node: string;
  incarnation: string;
}

/**
 * Whether only the node that took the REGISTER can reach the binding: it
 * came on a connection (TCP, TLS, WS) or from behind a NAT (`received`),
 * and no Path names an edge proxy that holds the flow instead. The same
 * test as the SQL of flowOwners and removeFlowsOf.
 */
export function holdsFlow(b: Pick<LocationBinding, 'path' | 'proto' | 'received'>): boolean {
  return b.path.length === 0 && (b.proto !== 'udp' || b.received !== null);
}

/** A binding to write: all but its id. */
export type NewBinding = Omit<LocationBinding, 'id'>;

/**
 * What to write to one AOR's rows, as the registrar planned it from the
 * stored bindings: rows to delete, bindings to write (id > 0 updates that
 * row, id < 0 is a new one, the id provisional), and the result once the
 * new rows have their ids.
 */
export interface LocationWrite<R> {
  deleteIds: number[];
  writes: Array<{ id: number; binding: NewBinding }>;
  result(insertedIds: Map<number, number>): R;
}

type Row = Omit<LocationTable, 'id'> & { id: number };

/** The Path column: a JSON list; a hand-edited row that is not one counts as no Path. */
function parsePath(text: string): string[] {
  if (text === '[]') return [];
  try {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed)) return parsed.map(String);
  } catch {
    // not JSON: no Path
  }
  return [];
}

function toBinding(row: Row): LocationBinding {
  return {
    id: row.id,
    aor: row.aor,
    contact: row.contact,
    received: row.received,
    path: parsePath(row.path),
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
    ownerNode: row.node_id,
    ownerIncarnation: row.node_inc,
  };
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

  /** The store's clock, milliseconds since the epoch. */
  now(): number {
    return this.#ctx.now();
  }

  /**
   * One write to an AOR, all or nothing: its bindings (expired ones too)
   * are read, `plan` says what to delete and write (it may throw: nothing
   * is written then), and its result is returned once new rows have ids.
   */
  async update<R>(aor: string, plan: (stored: LocationBinding[]) => LocationWrite<R>): Promise<R> {
    const a = normalizeAor(aor);
    // SQLite: the whole change as prepared statements in one synchronous
    // transaction when the write lock is free (the common case); else the
    // Kysely transaction, which waits for it.
    const fast = this.#ctx.syncTx((run, rows) => {
      const stored = rows(SQL_SELECT_AOR).all(a);
      const p = plan(stored.map(bindingOfValues));
      const del = run(SQL_DELETE_ID);
      for (const id of p.deleteIds) del.run(id);
      const ids = new Map<number, number>();
      for (const w of p.writes) {
        const values = valuesOf(w.binding);
        const before = w.id > 0 ? stored.find((v) => v[0] === w.id) : undefined;
        if (before !== undefined) updateChanged(run, w.id, before, values);
        else if (w.id > 0) run(SQL_UPDATE_ID).run(...values, w.id);
        else ids.set(w.id, Number(run(SQL_INSERT).run(...values).lastInsertRowid));
      }
      return p.result(ids);
    });
    if (fast !== undefined) return fast.value;
    return this.#ctx.tx(async (db) => {
      await this.#lock(db, a);
      const p = plan((await db.selectFrom('location').selectAll().where('aor', '=', a).execute()).map(toBinding));
      if (p.deleteIds.length > 0) await db.deleteFrom('location').where('id', 'in', p.deleteIds).execute();
      const ids = new Map<number, number>();
      for (const w of p.writes) {
        const row = rowOf(w.binding);
        if (w.id > 0) await db.updateTable('location').set(row).where('id', '=', w.id).execute();
        else ids.set(w.id, (await db.insertInto('location').values(row).returning('id').executeTakeFirstOrThrow()).id);
      }
      return p.result(ids);
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
   * page per tick. With `owner`, only the bindings that run took.
   */
  async listLiveReceived(
    afterId: number,
    limit: number,
    now = this.#ctx.now(),
    owner: BindingOwner | null = null,
  ): Promise<LocationBinding[]> {
    let q = this.#ctx.db
      .selectFrom('location')
      .selectAll()
      .where('expires_at', '>', now)
      .where('received', 'is not', null)
      .where('id', '>', afterId);
    if (owner !== null) q = q.where('node_id', '=', owner.node).where('node_inc', '=', owner.incarnation);
    const rows = await q.orderBy('id').limit(limit).execute();
    return rows.map(toBinding);
  }

  /** A live binding by its id. */
  async get(id: number, now = this.#ctx.now()): Promise<LocationBinding | undefined> {
    const row = await this.#ctx.db
      .selectFrom('location')
      .selectAll()
      .where('id', '=', id)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return row === undefined ? undefined : toBinding(row);
  }

  /** How many live bindings a cluster node's run took. */
  async countOwned(owner: BindingOwner, now = this.#ctx.now()): Promise<number> {
    const { n } = await this.#ctx.db
      .selectFrom('location')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('node_id', '=', owner.node)
      .where('node_inc', '=', owner.incarnation)
      .where('expires_at', '>', now)
      .executeTakeFirstOrThrow();
    return Number(n);
  }

  /** Every run of a cluster node that holds the flow of some binding (see holdsFlow), once each. */
  async flowOwners(): Promise<BindingOwner[]> {
    const rows = await this.#ctx.db
      .selectFrom('location')
      .select(['node_id', 'node_inc'])
      .distinct()
      .where('node_id', 'is not', null)
      .where('node_inc', 'is not', null)
      .where('path', '=', '[]')
      .where((eb) => eb.or([eb('proto', '<>', 'udp'), eb('received', 'is not', null)]))
      .execute();
    return rows.map((r) => ({ node: r.node_id!, incarnation: r.node_inc! }));
  }

  /**
   * Removes the bindings whose flow a run held (see holdsFlow), all of
   * them or those of `ids`: that run ended, and its connections and NAT
   * mappings with it. A binding registered again since (by another run) is
   * not touched. How many went.
   */
  async removeFlowsOf(owner: BindingOwner, ids: number[] | null = null): Promise<number> {
    if (ids !== null && ids.length === 0) return 0;
    return this.#ctx.tx(async (db) => {
      let q = db
        .deleteFrom('location')
        .where('node_id', '=', owner.node)
        .where('node_inc', '=', owner.incarnation)
        .where('path', '=', '[]')
        .where((eb) => eb.or([eb('proto', '<>', 'udp'), eb('received', 'is not', null)]));
      if (ids !== null) q = q.where('id', 'in', ids);
      return count((await q.executeTakeFirst()).numDeletedRows);
    });
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
  'aor',
  'contact',
  'received',
  'path',
  'instance',
  'reg_id',
  'call_id',
  'cseq',
  'q',
  'expires_at',
  'proto',
  'local_host',
  'local_port',
  'remote_host',
  'remote_port',
  'connection_id',
  'user_agent',
  'updated_at',
  'node_id',
  'node_inc',
] as const;
const SQL_SELECT_AOR = `select "id", ${COLUMNS.map((c) => `"${c}"`).join(', ')} from "location" where "aor" = ?`;
const SQL_DELETE_ID = 'delete from "location" where "id" = ?';
const SQL_UPDATE_ID = `update "location" set ${COLUMNS.map((c) => `"${c}" = ?`).join(', ')} where "id" = ?`;
const SQL_INSERT = `insert into "location" (${COLUMNS.map((c) => `"${c}"`).join(', ')}) values (${COLUMNS.map(() => '?').join(', ')})`;

/**
 * Updates row `id` from its stored values (a row of SQL_SELECT_AOR) to
 * `values` (COLUMNS order), setting only the columns that differ: SQLite
 * rewrites every index whose columns an UPDATE sets, changed or not, so a
 * refresh (Call-ID, CSeq, expiry, time) leaves the AOR's, the flow's and
 * the owner's index pages alone and writes fewer pages per commit.
 */
function updateChanged(
  run: (sqlText: string) => BetterSqlite3.Statement,
  id: number,
  before: unknown[],
  values: unknown[],
): void {
  const sets: string[] = [];
  const args: unknown[] = [];
  for (let i = 0; i < COLUMNS.length; i++) {
    if (Object.is(before[i + 1], values[i])) continue;
    sets.push(`"${COLUMNS[i]}" = ?`);
    args.push(values[i]);
  }
  if (sets.length === 0) return;
  run(`update "location" set ${sets.join(', ')} where "id" = ?`).run(...args, id);
}

/** A row of SQL_SELECT_AOR in raw mode (id, then COLUMNS in order) as a binding. */
function bindingOfValues(v: unknown[]): LocationBinding {
  return {
    id: v[0] as number,
    aor: v[1] as string,
    contact: v[2] as string,
    received: v[3] as string | null,
    path: parsePath(v[4] as string),
    instance: v[5] as string | null,
    regId: v[6] as number | null,
    callId: v[7] as string,
    cseq: v[8] as number,
    q: v[9] as number,
    expiresAt: v[10] as number,
    proto: v[11] as string,
    localHost: v[12] as string,
    localPort: v[13] as number,
    remoteHost: v[14] as string,
    remotePort: v[15] as number,
    connectionId: v[16] as string | null,
    userAgent: v[17] as string | null,
    updatedAt: v[18] as number,
    ownerNode: v[19] as string | null,
    ownerIncarnation: v[20] as string | null,
  };
}

/** A binding's values in COLUMNS order, for SQL_UPDATE_ID and SQL_INSERT. */
function valuesOf(b: NewBinding): unknown[] {
  return [
    b.aor,
    b.contact,
    b.received,
    JSON.stringify(b.path),
    b.instance,
    b.regId,
    b.callId,
    b.cseq,
    b.q,
    b.expiresAt,
    b.proto,
    b.localHost,
    b.localPort,
    b.remoteHost,
    b.remotePort,
    b.connectionId,
    b.userAgent,
    b.updatedAt,
    b.ownerNode,
    b.ownerIncarnation,
  ];
}

/** A binding as the table's row. */
function rowOf(b: NewBinding): Omit<LocationTable, 'id'> {
  return {
    aor: b.aor,
    contact: b.contact,
    received: b.received,
    path: JSON.stringify(b.path),
    instance: b.instance,
    reg_id: b.regId,
    call_id: b.callId,
    cseq: b.cseq,
    q: b.q,
    expires_at: b.expiresAt,
    proto: b.proto,
    local_host: b.localHost,
    local_port: b.localPort,
    remote_host: b.remoteHost,
    remote_port: b.remotePort,
    connection_id: b.connectionId,
    user_agent: b.userAgent,
    updated_at: b.updatedAt,
    node_id: b.ownerNode,
    node_inc: b.ownerIncarnation,
  };
}
