/**
 * Call records: one row per call, written when the call ends (answered or
 * not). Not provisioning data: an insert does not move `store.changes()`
 * (a running directory must not reload for every call). With `outbox`, the
 * CDR's row of cdr_outbox (the CDR webhook's queue, cdr-outbox.ts) is
 * written in the same transaction: both or neither.
 *
 * `list` pages newest first by (start_at, call_sid): the cursor it returns
 * names the last row, and the next page starts after it, so rows written
 * meanwhile never shift a page.
 */
import { count, type StoreContext } from '../context.js';
import { ConflictError, NotFoundError, ValidationError, isUniqueViolation } from '../errors.js';
import type { CdrTable } from '../schema.js';
import { checkInt, checkOptionalText, checkText } from '../validate.js';
import type { CallDirection, Cdr, CdrFilter, HangupSide } from '../../trunking/model.js';

const DIRECTIONS: readonly CallDirection[] = ['inbound', 'outbound'];
const HANGUP: readonly HangupSide[] = ['caller', 'callee', 'system'];

/** Rows per page when the filter gives no limit, and the most one page returns. */
export const CDR_DEFAULT_LIMIT = 100;
export const CDR_MAX_LIMIT = 10_000;
/** Rows per page of `range`. */
export const CDR_RANGE_PAGE = 1000;

/** What `range` reads: one account's records whose call started in [from, to). */
export interface CdrRange {
  account: string;
  from: number;
  to: number;
}

export interface CdrPage {
  cdrs: Cdr[];
  /** The cursor of the next page, or null when this one is the last. */
  next: string | null;
}

export function toCdr(r: CdrTable): Cdr {
  return {
    callSid: r.call_sid,
    account: r.account,
    trunk: r.trunk,
    carrier: r.carrier,
    direction: r.direction as CallDirection,
    from: r.call_from,
    to: r.call_to,
    startAt: r.start_at,
    answerAt: r.answer_at,
    endAt: r.end_at,
    duration: r.duration,
    status: r.status,
    reason: r.reason,
    hangupBy: r.hangup_by as HangupSide,
    extra: r.extra,
    cost: r.cost === null ? null : Number(r.cost),
    rate: r.rate === null ? null : Number(r.rate),
    ratePrefix: r.rate_prefix,
    billed: r.billed,
    fromReceived: r.from_received ?? null,
    toReceived: r.to_received ?? null,
    emergency: r.emergency === 1,
    gateway: r.gateway,
    pddMs: r.pdd_ms,
    q850: r.q850,
    mos: r.mos === null ? null : Number(r.mos),
    price: r.price === null || r.price === undefined ? null : Number(r.price),
    aCallId: r.a_call_id ?? null,
    bCallId: r.b_call_id ?? null,
    ringMs: r.ring_ms ?? null,
    durationMs: r.duration_ms ?? null,
  };
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if ((allowed as readonly unknown[]).includes(value)) return value as T;
  throw new ValidationError(field, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(String(value))}`);
}

const TIME_MAX = 8_640_000_000_000_000;

const OUTBOX_INSERT = 'INSERT INTO cdr_outbox (call_sid, next_at, created_at) VALUES (?, ?, ?)';
/** The insert of a row as toRow makes it, made from the first row (toRow gives every row its columns in one order). */
let cdrInsert: string | undefined;

function insertText(row: CdrTable): string {
  if (cdrInsert === undefined) {
    const columns = Object.keys(row);
    cdrInsert = `INSERT INTO cdrs (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
  }
  return cdrInsert;
}

function toRow(c: Cdr): CdrTable {
  const startAt = checkInt(c.startAt, 'startAt', 0, TIME_MAX);
  const endAt = checkInt(c.endAt, 'endAt', startAt, TIME_MAX);
  const answerAt =
    c.answerAt === null || c.answerAt === undefined ? null : checkInt(c.answerAt, 'answerAt', startAt, endAt);
  return {
    call_sid: checkText(c.callSid, 'callSid', 128),
    account: checkOptionalText(c.account, 'account', 64),
    trunk: checkOptionalText(c.trunk, 'trunk', 64),
    carrier: checkOptionalText(c.carrier, 'carrier', 64),
    direction: oneOf(c.direction, DIRECTIONS, 'direction'),
    call_from: checkText(c.from, 'from', 512),
    call_to: checkText(c.to, 'to', 512),
    start_at: startAt,
    answer_at: answerAt,
    end_at: endAt,
    duration: checkInt(c.duration, 'duration', 0, 1e9),
    status: checkInt(c.status, 'status', 100, 699),
    reason: typeof c.reason === 'string' && c.reason === '' ? '' : checkText(c.reason, 'reason', 256),
    hangup_by: oneOf(c.hangupBy, HANGUP, 'hangupBy'),
    extra: checkOptionalText(c.extra, 'extra', 65_536),
    // 0007_rates: the buy cost and what priced it (micro-units), when priced.
    cost: c.cost === undefined || c.cost === null ? null : checkInt(c.cost, 'cost', 0, Number.MAX_SAFE_INTEGER),
    rate: c.rate === undefined || c.rate === null ? null : checkInt(c.rate, 'rate', 0, Number.MAX_SAFE_INTEGER),
    rate_prefix: checkOptionalText(c.ratePrefix, 'ratePrefix', 16),
    billed: c.billed === undefined || c.billed === null ? null : checkInt(c.billed, 'billed', 0, 1e9),
    // 0008_dial_plans: the numbers as received, and the emergency flag.
    from_received: checkOptionalText(c.fromReceived, 'fromReceived', 512),
    to_received: checkOptionalText(c.toReceived, 'toReceived', 512),
    emergency: c.emergency === true ? 1 : 0,
    // 0009_cdr_quality.
    gateway: checkOptionalText(c.gateway, 'gateway', 512),
    pdd_ms: c.pddMs === undefined || c.pddMs === null ? null : checkInt(c.pddMs, 'pddMs', 0, 1e9),
    q850: c.q850 === undefined || c.q850 === null ? null : checkInt(c.q850, 'q850', 1, 127),
    mos: c.mos === undefined || c.mos === null ? null : checkMos(c.mos),
    // 0010_sell_prices.
    price: c.price === undefined || c.price === null ? null : checkInt(c.price, 'price', 0, Number.MAX_SAFE_INTEGER),
    // 0011_cdr_legs.
    a_call_id: checkOptionalText(c.aCallId, 'aCallId', 1024),
    b_call_id: checkOptionalText(c.bCallId, 'bCallId', 1024),
    ring_ms: c.ringMs === undefined || c.ringMs === null ? null : checkInt(c.ringMs, 'ringMs', 0, 1e10),
    duration_ms:
      c.durationMs === undefined || c.durationMs === null ? null : checkInt(c.durationMs, 'durationMs', 0, 1e11),
  };
}

function checkMos(v: number): number {
  if (typeof v !== 'number' || !(v >= 1 && v <= 5)) throw new ValidationError('mos', `expected 1-5, got ${String(v)}`);
  return Math.round(v * 100) / 100;
}

/** `START.CALLSID` in base64url: opaque to callers. */
function encodeCursor(startAt: number, callSid: string): string {
  return Buffer.from(`${startAt}.${callSid}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): { startAt: number; callSid: string } {
  const text = /^[A-Za-z0-9_-]{1,400}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const dot = text.indexOf('.');
  const startAt = Number(text.slice(0, dot));
  if (dot <= 0 || !Number.isSafeInteger(startAt) || dot === text.length - 1) {
    throw new ValidationError('cursor', 'not a cursor this server returned');
  }
  return { startAt, callSid: text.slice(dot + 1) };
}

/** A record's failed insert as the caller sees it: ConflictError when its call sid has a record already. */
function insertError(err: unknown, row: CdrTable): Error {
  return isUniqueViolation(err) ? new ConflictError(`CDR ${row.call_sid} exists`) : (err as Error);
}

export class CdrRepo {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** Writes one call's record (with `outbox`, queued for the CDR webhook too). ConflictError when its call sid has one. */
  async insert(cdr: Cdr, opts: { outbox?: boolean } = {}): Promise<void> {
    const [err] = await this.insertMany([cdr], opts);
    if (err !== null && err !== undefined) throw err;
  }

  /**
   * Writes several calls' records at once, each on its own: the result has,
   * in order, null for a record written or the error of one that was not
   * (ConflictError, ValidationError). On SQLite they go in one transaction
   * (one commit, one write of each page touched, instead of one per record);
   * a record that fails there fails alone (SQLite undoes the statement, not
   * the transaction). Elsewhere, or when the write lock is held, one by one.
   */
  async insertMany(cdrs: readonly Cdr[], opts: { outbox?: boolean } = {}): Promise<Array<Error | null>> {
    const out: Array<Error | null> = cdrs.map(() => null);
    const rows: Array<CdrTable | null> = cdrs.map((cdr, i) => {
      try {
        return toRow(cdr);
      } catch (err) {
        out[i] = err as Error;
        return null;
      }
    });
    const now = this.#ctx.now();
    // SQLite: one synchronous transaction of statements prepared once (Kysely compiles and prepares each query).
    const done = this.#ctx.syncTx((run) => {
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i];
        if (row === null || row === undefined) continue;
        // With its outbox row: both or neither (a savepoint of its own).
        const pair = opts.outbox === true;
        if (pair) run('SAVEPOINT cdr').run();
        try {
          run(insertText(row)).run(...(Object.values(row) as Array<string | number | null>));
          if (pair) run(OUTBOX_INSERT).run(row.call_sid, now, now);
        } catch (err) {
          if (pair) run('ROLLBACK TO cdr').run();
          out[i] = insertError(err, row);
        }
        if (pair) run('RELEASE cdr').run();
      }
    });
    if (done !== undefined) return out;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      if (row === null || row === undefined) continue;
      try {
        await this.#insertOne(row, now, opts);
      } catch (err) {
        out[i] = insertError(err, row);
      }
    }
    return out;
  }

  /** One record through Kysely (PostgreSQL, or SQLite while another connection holds the write lock). */
  async #insertOne(row: CdrTable, now: number, opts: { outbox?: boolean }): Promise<void> {
    if (opts.outbox !== true) {
      await this.#ctx.db.insertInto('cdrs').values(row).execute();
      return;
    }
    await this.#ctx.tx(async (db) => {
      await db.insertInto('cdrs').values(row).execute();
      await db.insertInto('cdr_outbox').values({ call_sid: row.call_sid, next_at: now, created_at: now }).execute();
    });
  }

  /** One page of records matching the filter, newest first. */
  async list(filter: CdrFilter = {}): Promise<CdrPage> {
    const limit = filter.limit === undefined ? CDR_DEFAULT_LIMIT : checkInt(filter.limit, 'limit', 1, CDR_MAX_LIMIT);
    let q = this.#ctx.db.selectFrom('cdrs').selectAll();
    if (filter.since !== undefined) q = q.where('start_at', '>=', checkInt(filter.since, 'since', 0, TIME_MAX));
    if (filter.until !== undefined) q = q.where('start_at', '<', checkInt(filter.until, 'until', 0, TIME_MAX));
    if (filter.trunk !== undefined) q = q.where('trunk', '=', checkText(filter.trunk, 'trunk', 64));
    if (filter.account !== undefined) q = q.where('account', '=', checkText(filter.account, 'account', 64));
    if (filter.direction !== undefined) q = q.where('direction', '=', oneOf(filter.direction, DIRECTIONS, 'direction'));
    if (filter.disposition !== undefined) {
      const d = oneOf(filter.disposition, ['answered', 'failed'] as const, 'disposition');
      q =
        d === 'answered'
          ? q.where('status', '>=', 200).where('status', '<', 300)
          : q.where((eb) => eb.or([eb('status', '<', 200), eb('status', '>=', 300)]));
    }
    if (filter.cursor !== undefined) {
      const c = decodeCursor(filter.cursor);
      // Compared in the ORDER BY's collation (code points on both dialects).
      const sid = this.#ctx.orderText('call_sid');
      q = q.where((eb) =>
        eb.or([eb('start_at', '<', c.startAt), eb.and([eb('start_at', '=', c.startAt), eb(sid, '<', c.callSid)])]),
      );
    }
    const rows = await q
      .orderBy('start_at', 'desc')
      .orderBy(this.#ctx.orderText('call_sid'), 'desc')
      .limit(limit + 1)
      .execute();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      cdrs: page.map(toCdr),
      next: rows.length > limit && last !== undefined ? encodeCursor(last.start_at, last.call_sid) : null,
    };
  }

  /**
   * The records of `q.account` whose call started in [from, to), oldest
   * first (ties by call sid), read a page of `pageSize` at a time after the
   * last row of the one before: a range of a million rows is never in
   * memory at once, and rows written meanwhile never shift a page.
   */
  async *range(q: CdrRange, pageSize = CDR_RANGE_PAGE): AsyncGenerator<Cdr[]> {
    const account = checkText(q.account, 'account', 64);
    const from = checkInt(q.from, 'from', 0, TIME_MAX);
    const to = checkInt(q.to, 'to', 0, TIME_MAX);
    const size = checkInt(pageSize, 'pageSize', 1, CDR_MAX_LIMIT);
    let after: { startAt: number; callSid: string } | null = null;
    for (;;) {
      let sel = this.#ctx.db
        .selectFrom('cdrs')
        .selectAll()
        .where('account', '=', account)
        .where('start_at', '>=', from)
        .where('start_at', '<', to);
      // A row value comparison, in the index's own order (cdrs_account_start), on both dialects.
      const last = after;
      if (last !== null)
        sel = sel.where((eb) => eb(eb.refTuple('start_at', 'call_sid'), '>', eb.tuple(last.startAt, last.callSid)));
      const rows = await sel.orderBy('start_at').orderBy('call_sid').limit(size).execute();
      if (rows.length > 0) yield rows.map(toCdr);
      if (rows.length < size) return;
      const end = rows.at(-1)!;
      after = { startAt: end.start_at, callSid: end.call_sid };
    }
  }

  /** One call's record; NotFoundError when there is none. */
  async show(callSid: string): Promise<Cdr> {
    const sid = checkText(callSid, 'callSid', 128);
    const row = await this.#ctx.db.selectFrom('cdrs').selectAll().where('call_sid', '=', sid).executeTakeFirst();
    if (row === undefined) throw new NotFoundError(`unknown call ${sid}`);
    return toCdr(row);
  }

  /** Deletes the records of calls that started before `time` (retention); how many went. */
  async purgeBefore(time: number): Promise<number> {
    const t = checkInt(time, 'time', 0, TIME_MAX);
    const r = await this.#ctx.db.deleteFrom('cdrs').where('start_at', '<', t).executeTakeFirst();
    return count(r.numDeletedRows);
  }
}
