/**
 * Rate decks held in memory for the lookups of a running server (SQLite
 * store): the rate repository (rates.ts `match`) answers from here once a
 * deck is loaded, and from its indexed query before that.
 *
 * A deck's index is its rows in typed arrays (40 bytes a row, and 8 to 16
 * of hash table: no object per row, nothing for the garbage collector to
 * walk), sorted by a numeric key per prefix (10^n + the prefix's n digits
 * as a number: one key per digit string, ordered by length, then value),
 * with a hash table from key to its first row. A lookup tries, longest
 * first, only the prefix lengths the deck has, one hash probe each (a
 * binary search cost three times as much here: each step a cache miss).
 *
 * Loading reads the deck in pages of PAGE rows in the order of its primary
 * key (prefix, effective_at), one synchronous query a page with a turn of
 * the event loop between pages, so calls keep being routed (by the query)
 * meanwhile. Rows come in text order, which within one prefix length is
 * numeric order: a stable counting sort by length gives the key order
 * without comparing. An index belongs to one version of a deck, its id and
 * row count (an active deck changes only by `rate rm CARRIER PREFIX`, which
 * lowers the count; an import makes a new deck): when the active deck is
 * no longer that version the index is dropped and the next one loaded.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type BetterSqlite3 from 'better-sqlite3';
import type { RateMatch } from '../../trunking/model.js';

/** A synchronous statement in raw mode (StoreContext.sqliteRows), undefined when none can run now. */
export type RowsStatement = (sqlText: string) => BetterSqlite3.Statement<unknown[], unknown[]> | undefined;

/** Lookups of a carrier's deck before it is loaded into memory: a one-shot CLI never loads one. */
export const INDEX_AFTER = 64;
/** Rows per page of a load (one synchronous query: a few ms). */
const PAGE = 2000;
/** The most digits after `+` a prefix can have (rates.ts MAX_NUMBER). */
const MAX_DIGITS = 15;
const POW10: number[] = Array.from({ length: MAX_DIGITS + 1 }, (_, n) => 10 ** n);

/** A deck's version: an index is only ever used for the version it was loaded from. */
export interface DeckVersion {
  id: number;
  rows: number;
}

/** One deck's rows in memory, sorted by key. */
export class DeckIndex {
  readonly version: DeckVersion;
  readonly #keys: Float64Array;
  readonly #rate: Float64Array;
  readonly #fee: Float64Array;
  readonly #eff: Float64Array;
  readonly #first: Uint32Array;
  readonly #next: Uint32Array;
  /** Bit n set: the deck has prefixes of n digits. */
  readonly #lengths: number;
  /** Open addressing, linear probing: 1 + the first row of a key, 0 for an empty slot. */
  readonly #slots: Int32Array;

  constructor(version: DeckVersion, cols: Columns, lengths: number, slots: Int32Array) {
    this.version = version;
    this.#keys = cols.keys;
    this.#rate = cols.rate;
    this.#fee = cols.fee;
    this.#eff = cols.eff;
    this.#first = cols.first;
    this.#next = cols.next;
    this.#lengths = lengths;
    this.#slots = slots;
  }

  /** The first row of `key`, or -1. */
  #firstRow(key: number): number {
    const mask = this.#slots.length - 1;
    for (let slot = slotOf(key, mask); ; slot = (slot + 1) & mask) {
      const r = this.#slots[slot]!;
      if (r === 0) return -1;
      if (this.#keys[r - 1] === key) return r - 1;
    }
  }

  get size(): number {
    return this.#keys.length;
  }

  /** Bytes of its arrays. */
  get bytes(): number {
    return this.#keys.length * 40 + this.#slots.byteLength;
  }

  /**
   * The row of the longest prefix of the number (its digits' running
   * values in `values`, `digits` of them) with a row in force at `at`,
   * the newest in force of that prefix; null when none.
   */
  find(carrier: string, number: string, values: Float64Array, digits: number, at: number): RateMatch | null {
    const keys = this.#keys;
    for (let n = Math.min(digits, MAX_DIGITS); n >= 1; n--) {
      if ((this.#lengths & (1 << n)) === 0) continue;
      const key = POW10[n]! + values[n]!;
      const lo = this.#firstRow(key);
      if (lo < 0) continue;
      let best = -1;
      for (let i = lo; i < keys.length && keys[i] === key; i++) {
        const e = this.#eff[i]!;
        if (e <= at && (best < 0 || e > this.#eff[best]!)) best = i;
      }
      if (best >= 0) {
        return {
          carrier,
          prefix: number.slice(0, n + 1),
          rate: this.#rate[best]!,
          fee: this.#fee[best]!,
          first: this.#first[best]!,
          next: this.#next[best]!,
          effectiveAt: this.#eff[best]!,
        };
      }
    }
    return null;
  }
}

/** A key's slot: its low and high 32 bits mixed (keys are integers below 2^51). */
function slotOf(key: number, mask: number): number {
  let h = Math.imul((key >>> 0) ^ Math.imul((key / 4294967296) >>> 0, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 15;
  return h & mask;
}

interface Columns {
  keys: Float64Array;
  rate: Float64Array;
  fee: Float64Array;
  eff: Float64Array;
  first: Uint32Array;
  next: Uint32Array;
}

/** `+4420...` -> the running values of its digits (values[n]: the first n digits as a number), or -1 when not `+` and digits. */
export function digitValues(number: string, values: Float64Array): number {
  const digits = number.length - 1;
  if (digits < 1 || number.charCodeAt(0) !== 43) return -1;
  let v = 0;
  for (let n = 1; n <= digits; n++) {
    const d = number.charCodeAt(n) - 48;
    if (d < 0 || d > 9) return -1;
    if (n <= MAX_DIGITS) values[n] = v = v * 10 + d;
  }
  return digits;
}

/** One page of a deck's rows after (prefix, effective_at), in primary key order. */
const PAGE_SQL =
  'SELECT prefix, effective_at, rate, fee, first_incr, next_incr FROM rates' +
  ' WHERE deck = ? AND (prefix, effective_at) > (?, ?) ORDER BY prefix, effective_at LIMIT ?';

type PageRow = [string, number, number, number, number, number];

/**
 * Reads a deck's rows page by page (`statement` returns undefined while
 * the connection is inside a transaction: the page is tried again after a
 * turn of the loop) and builds its index; null when `stillWanted` says the
 * version is no longer the active one, or the rows are not as many as the
 * version says (changed meanwhile).
 */
export async function loadDeckIndex(
  version: DeckVersion,
  statement: RowsStatement,
  stillWanted: () => boolean,
): Promise<DeckIndex | null> {
  const n = version.rows;
  const raw: Columns = {
    keys: new Float64Array(n),
    rate: new Float64Array(n),
    fee: new Float64Array(n),
    eff: new Float64Array(n),
    first: new Uint32Array(n),
    next: new Uint32Array(n),
  };
  const len = new Uint8Array(n);
  let count = 0;
  let after: [string, number] = ['', -1];
  for (;;) {
    await yieldToLoop();
    if (!stillWanted()) return null;
    const stmt = statement(PAGE_SQL);
    if (stmt === undefined) continue;
    const rows = stmt.all(version.id, after[0], after[1], PAGE) as PageRow[];
    for (const [prefix, eff, rate, fee, first, next] of rows) {
      if (count === n) return null;
      const digits = prefix.length - 1;
      raw.keys[count] = POW10[digits]! + Number(prefix.slice(1));
      raw.rate[count] = Number(rate);
      raw.fee[count] = Number(fee);
      raw.eff[count] = Number(eff);
      raw.first[count] = first;
      raw.next[count] = next;
      len[count] = digits;
      count++;
    }
    if (rows.length < PAGE) break;
    const last = rows[rows.length - 1]!;
    after = [last[0], Number(last[1])];
  }
  if (count !== n || !stillWanted()) return null;
  const sorted = await sortByLength(raw, len);
  const slots = await hashKeys(sorted.cols.keys);
  return new DeckIndex(version, sorted.cols, sorted.lengths, slots);
}

/** Rows handled between two turns of the event loop while an index is built. */
const CHUNK = 32_768;

/** The hash table of sorted keys: each key's slot holds 1 + its first row. */
async function hashKeys(keys: Float64Array): Promise<Int32Array> {
  let size = 16;
  while (size < keys.length * 2) size *= 2;
  const slots = new Int32Array(size);
  for (let i = 0; i < keys.length; i++) {
    if (i % CHUNK === CHUNK - 1) await yieldToLoop();
    if (i > 0 && keys[i] === keys[i - 1]) continue;
    let slot = slotOf(keys[i]!, size - 1);
    while (slots[slot] !== 0) slot = (slot + 1) & (size - 1);
    slots[slot] = i + 1;
  }
  return slots;
}

/** Stable counting sort of the rows by prefix length: text order within a length is key order. */
async function sortByLength(raw: Columns, len: Uint8Array): Promise<{ cols: Columns; lengths: number }> {
  const n = len.length;
  const start = new Uint32Array(MAX_DIGITS + 2);
  let lengths = 0;
  for (let i = 0; i < n; i++) {
    start[len[i]! + 1]!++;
    lengths |= 1 << len[i]!;
  }
  for (let d = 1; d <= MAX_DIGITS + 1; d++) start[d]! += start[d - 1]!;
  const out: Columns = {
    keys: new Float64Array(n),
    rate: new Float64Array(n),
    fee: new Float64Array(n),
    eff: new Float64Array(n),
    first: new Uint32Array(n),
    next: new Uint32Array(n),
  };
  for (let i = 0; i < n; i++) {
    if (i % CHUNK === CHUNK - 1) await yieldToLoop();
    const j = start[len[i]!]!++;
    out.keys[j] = raw.keys[i]!;
    out.rate[j] = raw.rate[i]!;
    out.fee[j] = raw.fee[i]!;
    out.eff[j] = raw.eff[i]!;
    out.first[j] = raw.first[i]!;
    out.next[j] = raw.next[i]!;
  }
  return { cols: out, lengths };
}

/** A carrier's deck in memory: the version it is for, null while loading. */
interface IndexState {
  version: DeckVersion;
  index: DeckIndex | null;
  /** The lookup (RateIndexes' count) that last asked for it. */
  used: number;
}

/** A deck not asked for in this many lookups leaves memory (its carrier left the routes, say). */
const IDLE_LOOKUPS = 1 << 20;

/** Carrier lists whose active decks are remembered, at most (routes have few distinct lists). */
const MAX_ACTIVE_SEEN = 1024;
const ACTIVE_SQL = "SELECT carrier, id, row_count FROM rate_decks WHERE state = 'active' AND carrier IN ";

/** The decks in memory of one store, by carrier, and the lookups that use them. */
export class RateIndexes {
  /** By carrier: lookups of its deck so far, until INDEX_AFTER. */
  readonly #lookups = new Map<string, number>();
  readonly #indexes = new Map<string, IndexState>();
  readonly #values = new Float64Array(MAX_DIGITS + 1);
  readonly #activeText: string[] = [];
  /** Carrier lists (joined) -> their active decks as read at a change count. */
  readonly #activeSeen = new Map<string, { changes: number; rows: Array<[string, number, number]> }>();
  /** Lookups so far. */
  #count = 0;

  /** Drops the decks no lookup asked for in the last IDLE_LOOKUPS. */
  #dropIdle(): void {
    for (const [carrier, state] of this.#indexes) {
      if (this.#count - state.used > IDLE_LOOKUPS) {
        this.#indexes.delete(carrier);
        this.#lookups.delete(carrier);
      }
    }
  }

  /**
   * The carriers' active decks (one small query), each answered from
   * memory when its index is loaded; `rest` are those to look up by query.
   * Undefined when this cannot run: no synchronous statement (PostgreSQL,
   * a transaction open), or a number that is not `+` and digits.
   */
  match(
    statement: RowsStatement,
    carriers: readonly string[],
    number: string,
    at: number,
    changes?: number,
  ): { found: Map<string, RateMatch>; rest: string[] } | undefined {
    const digits = digitValues(number, this.#values);
    if (digits < 0) return undefined;
    if (++this.#count % 65_536 === 0) this.#dropIdle();
    const active = this.#active(statement, carriers, changes);
    if (active === undefined) return undefined;
    const found = new Map<string, RateMatch>();
    const rest: string[] = [];
    for (const [carrier, id, rows] of active) {
      const index = this.#indexOf(statement, carrier, { id: Number(id), rows: Number(rows) });
      if (index === null) rest.push(carrier);
      else {
        const m = index.find(carrier, number, this.#values, digits, at);
        if (m !== null) found.set(carrier, m);
      }
    }
    return { found, rest };
  }

  /**
   * The carriers' active decks (carrier, id, rows): read again only when the
   * store's change counter moved since they were read for these carriers
   * (`changes`: StoreContext.changesNow; absent: always read).
   */
  #active(
    statement: RowsStatement,
    carriers: readonly string[],
    changes: number | undefined,
  ): Array<[string, number, number]> | undefined {
    const key = changes === undefined ? '' : carriers.join('\n');
    const seen = changes === undefined ? undefined : this.#activeSeen.get(key);
    if (seen !== undefined && seen.changes === changes) return seen.rows;
    const stmt = statement(this.#activeSql(carriers.length));
    if (stmt === undefined) return undefined;
    const rows = stmt.all(...carriers) as Array<[string, number, number]>;
    if (changes !== undefined) {
      if (this.#activeSeen.size >= MAX_ACTIVE_SEEN) this.#activeSeen.clear();
      this.#activeSeen.set(key, { changes, rows });
    }
    return rows;
  }

  /** The active-decks query for n carriers (its text made once). */
  #activeSql(n: number): string {
    let text = this.#activeText[n];
    if (text === undefined) {
      text = `${ACTIVE_SQL}(${Array.from({ length: n }, () => '?').join(', ')})`;
      this.#activeText[n] = text;
    }
    return text;
  }

  /** The loaded decks: how many, their rows and the bytes of their arrays. */
  get held(): { decks: number; rows: number; bytes: number } {
    const out = { decks: 0, rows: 0, bytes: 0 };
    for (const s of this.#indexes.values()) {
      if (s.index === null) continue;
      out.decks++;
      out.rows += s.index.size;
      out.bytes += s.index.bytes;
    }
    return out;
  }

  /** The carrier's deck in memory if loaded for this version; starts loading it once the deck is looked up often. */
  #indexOf(statement: RowsStatement, carrier: string, version: DeckVersion): DeckIndex | null {
    const state = this.#indexes.get(carrier);
    if (state !== undefined && state.version.id === version.id && state.version.rows === version.rows) {
      state.used = this.#count;
      return state.index;
    }
    if (state === undefined) {
      const n = (this.#lookups.get(carrier) ?? 0) + 1;
      this.#lookups.set(carrier, n);
      if (n < INDEX_AFTER) return null;
    }
    // The first load, or a new version: the index of a deck no longer active as it was goes.
    const next: IndexState = { version, index: null, used: this.#count };
    this.#indexes.set(carrier, next);
    const wanted = (): boolean => this.#indexes.get(carrier) === next;
    void loadDeckIndex(version, statement, wanted)
      .catch(() => null)
      .then((index) => {
        if (!wanted()) return;
        // Not loaded (the deck changed meanwhile, the store was closed): the next lookup starts again.
        if (index === null) this.#indexes.delete(carrier);
        else next.index = index;
      });
    return null;
  }
}
