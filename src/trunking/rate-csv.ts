/**
 * A carrier's rate deck as CSV (RFC 4180), read as a stream: a header row
 * naming the columns (any case, any order), then one rate per row.
 *
 *   prefix  required  the dialled-number prefix, with or without `+` (44, +4420)
 *   rate    required  price per minute, a decimal (0.0125), up to 6 decimal places
 *   increment         FIRST/NEXT seconds (60/60, 1/1, 30/6); default 60/60
 *   fee               per call, a decimal; default 0
 *   effective         ISO date (2026-03-01, midnight UTC) or time with a zone
 *                     (2026-03-01T08:00:00Z); the row applies from then; default: always
 *
 * Other columns are ignored (and named in the answer, so a misspelt one is
 * seen). Quoted fields (`"..."`, `""` for a quote, line breaks inside), a
 * UTF-8 BOM, CRLF or LF line ends and blank lines are accepted. The first
 * bad value stops the read with a RateFileError naming its line and column;
 * the store then imports nothing (src/store/repos/rates.ts).
 */
import { ValidationError } from '../store/errors.js';
import { parseIncrements, parseMicros, type Increments } from './money.js';

/** One row of a deck, as the store keeps it: money in micro-units, times in ms since the epoch (0 = always). */
export interface RateRow {
  /** `+` and digits. */
  prefix: string;
  /** Price per minute, micro-units. */
  rate: number;
  /** Per call, micro-units. */
  fee: number;
  first: number;
  next: number;
  effectiveAt: number;
}

/** A row as read, with the line it started on (for the store's duplicate message). */
export interface RateFileRow extends RateRow {
  line: number;
}

/** The increments of a row that gives none. */
export const DEFAULT_INCREMENTS: Increments = { first: 60, next: 60 };

const COLUMNS = ['prefix', 'rate', 'increment', 'fee', 'effective'] as const;
type Column = (typeof COLUMNS)[number];

/** The longest record (in characters) a deck may have: a guard against a file that is no CSV. */
const MAX_RECORD = 64 * 1024;

/** A bad deck: its `field` is where (`line 17, column 2 (rate)`), the message says what. */
export class RateFileError extends ValidationError {
  override readonly name: string = 'RateFileError';
  readonly line: number;
  readonly column: number | null;

  constructor(line: number, column: number | null, columnName: string | null, problem: string) {
    super(
      column === null
        ? `line ${line}`
        : `line ${line}, column ${column}${columnName === null ? '' : ` (${columnName})`}`,
      problem,
    );
    this.line = line;
    this.column = column;
  }
}

function show(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
}

/** A CSV record: its fields and the line it starts on. */
interface CsvRecord {
  fields: string[];
  line: number;
}

/**
 * RFC 4180 records from text arriving in pieces. `push` returns the records
 * complete so far; `end` the last one. Unquoted fields are trimmed.
 */
export class CsvRecords {
  #carry = '';
  #line = 1;
  #first = true;

  /** The line the next record starts on. */
  get line(): number {
    return this.#line;
  }

  push(text: string): CsvRecord[] {
    let t = this.#carry + text;
    if (this.#first && t.length > 0) {
      if (t.charCodeAt(0) === 0xfeff) t = t.slice(1);
      this.#first = false;
    }
    const out: CsvRecord[] = [];
    let pos = 0;
    for (;;) {
      const r = this.#record(t, pos, false);
      if (r === null) break;
      out.push(r.record);
      pos = r.end;
    }
    this.#carry = t.slice(pos);
    if (this.#carry.length > MAX_RECORD)
      throw new RateFileError(this.#line, null, null, `a record longer than ${MAX_RECORD} characters: is it CSV?`);
    return out;
  }

  end(): CsvRecord[] {
    const t = this.#carry;
    this.#carry = '';
    if (t.length === 0) return [];
    const r = this.#record(t, 0, true);
    return r === null ? [] : [r.record];
  }

  /** The record starting at `pos`, or null when the text ends before it does (and more may come). */
  #record(t: string, pos: number, final: boolean): { record: CsvRecord; end: number } | null {
    if (pos >= t.length) return null;
    const fields: string[] = [];
    let line = this.#line;
    let i = pos;
    for (;;) {
      if (t.charCodeAt(i) === 34 /* " */) {
        let value = '';
        let from = i + 1;
        for (;;) {
          const q = t.indexOf('"', from);
          if (q < 0) {
            if (!final) return null;
            throw new RateFileError(this.#line, fields.length + 1, null, 'a quoted field is not closed');
          }
          if (q + 1 >= t.length && !final) return null;
          value += t.slice(from, q);
          if (t.charCodeAt(q + 1) === 34) {
            value += '"';
            from = q + 2;
            continue;
          }
          i = q + 1;
          break;
        }
        for (const ch of value) if (ch === '\n') line++;
        fields.push(value);
      } else {
        let j = i;
        while (j < t.length) {
          const c = t.charCodeAt(j);
          if (c === 44 || c === 10 || c === 13) break;
          if (c === 34)
            throw new RateFileError(line, fields.length + 1, null, 'a quote inside an unquoted field (quote it all)');
          j++;
        }
        if (j >= t.length && !final) return null;
        fields.push(t.slice(i, j).trim());
        i = j;
      }
      // After a field: a comma (another field), a line end, or the end of the text.
      const c = i < t.length ? t.charCodeAt(i) : -1;
      if (c === 44) {
        i++;
        continue;
      }
      if (c === 13) {
        if (i + 1 >= t.length && !final) return null;
        i += t.charCodeAt(i + 1) === 10 ? 2 : 1;
      } else if (c === 10) i++;
      else if (c !== -1)
        throw new RateFileError(line, fields.length, null, 'text after the closing quote of a quoted field');
      const record = { fields, line: this.#line };
      this.#line = line + 1;
      return { record, end: i };
    }
  }
}

/** What the header row says: where each known column is, and the columns ignored. */
export interface RateHeader {
  index: Partial<Record<Column, number>>;
  names: string[];
  ignored: string[];
}

function readHeader(r: CsvRecord): RateHeader {
  const names = r.fields.map((f) => f.trim().toLowerCase());
  const index: Partial<Record<Column, number>> = {};
  const ignored: string[] = [];
  names.forEach((n, i) => {
    if ((COLUMNS as readonly string[]).includes(n)) {
      if (index[n as Column] !== undefined)
        throw new RateFileError(
          r.line,
          i + 1,
          n,
          `the header names ${n} twice (columns ${index[n as Column]! + 1} and ${i + 1})`,
        );
      index[n as Column] = i;
    } else ignored.push(r.fields[i]!.trim());
  });
  for (const need of ['prefix', 'rate'] as const)
    if (index[need] === undefined)
      throw new RateFileError(
        r.line,
        null,
        null,
        `the header row has no ${need} column (it needs prefix and rate; may have increment, fee, effective)`,
      );
  return { index, names, ignored };
}

const PREFIX = /^\+?([1-9][0-9]{0,14})$/;
const DATE = /^(\d{4})-(\d\d)-(\d\d)$/;
const DATE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d{1,3})?)?(?:Z|[+-]\d\d:?\d\d)$/;

/** `2026-03-01` (midnight UTC) or `2026-03-01T08:00:00Z` / `+01:00` as ms; null when neither or not a real date. */
export function parseEffective(text: string): number | null {
  const d = DATE.exec(text);
  if (d !== null) {
    const t = Date.UTC(Number(d[1]), Number(d[2]) - 1, Number(d[3]));
    return new Date(t).toISOString().slice(0, 10) === text ? t : null;
  }
  if (!DATE_TIME.test(text) || parseEffective(text.slice(0, 10)) === null) return null;
  const t = Date.parse(text);
  return Number.isNaN(t) ? null : t;
}

/** Values a deck repeats on most rows (increments, dates) parse once each (bounded). */
class Memo<T> {
  readonly #map = new Map<string, T>();
  get(text: string, parse: (t: string) => T): T {
    let v = this.#map.get(text);
    if (v === undefined) {
      v = parse(text);
      if (this.#map.size < 4096) this.#map.set(text, v);
    }
    return v;
  }
}

/** Reads the rows of one deck (its header known): each row's fields as a RateFileRow, or RateFileError naming the first bad one. */
class RowReader {
  readonly #h: RateHeader;
  readonly #increments = new Memo<Increments | { problem: string }>();
  readonly #dates = new Memo<number | null>();

  constructor(h: RateHeader) {
    this.#h = h;
  }

  read(r: CsvRecord): RateFileRow {
    const h = this.#h;
    if (r.fields.length !== h.names.length)
      throw new RateFileError(
        r.line,
        null,
        null,
        `${r.fields.length} field${r.fields.length === 1 ? '' : 's'}, the header has ${h.names.length}`,
      );
    const f = r.fields;
    const at = (c: Column): string => (h.index[c] === undefined ? '' : f[h.index[c]!]!.trim());
    const bad = (c: Column, problem: string): never => {
      throw new RateFileError(r.line, h.index[c]! + 1, c, `${problem}, got ${show(at(c))}`);
    };
    const p = PREFIX.exec(at('prefix'));
    if (p === null)
      return bad('prefix', 'expected a dialling prefix like 44 or +4420 (1 to 15 digits, the first not 0)');
    const rate = parseMicros(at('rate'));
    if (typeof rate !== 'number') return bad('rate', `a price per minute: ${rate.problem}`);
    let inc = DEFAULT_INCREMENTS;
    const incText = at('increment');
    if (incText !== '') {
      const i = this.#increments.get(incText, parseIncrements);
      if ('problem' in i) return bad('increment', i.problem);
      inc = i;
    }
    let fee = 0;
    const feeText = at('fee');
    if (feeText !== '') {
      const v = parseMicros(feeText);
      if (typeof v !== 'number') return bad('fee', `a fee per call: ${v.problem}`);
      fee = v;
    }
    let effectiveAt = 0;
    const dateText = at('effective');
    if (dateText !== '') {
      const e = this.#dates.get(dateText, parseEffective);
      if (e === null || e < 0)
        return bad('effective', 'expected an ISO date like 2026-03-01 or a time like 2026-03-01T08:00:00Z');
      effectiveAt = e;
    }
    return { line: r.line, prefix: `+${p[1]!}`, rate, fee, first: inc.first, next: inc.next, effectiveAt };
  }
}

/** A blank line, or one of empty fields only (a spreadsheet's `,,,,`). */
function blank(r: CsvRecord): boolean {
  return r.fields.every((f) => f === '');
}

export interface RateFileRead {
  /** The header (known when the first batch comes). */
  header: RateHeader | null;
  /** Rows read so far. */
  rows: number;
}

/**
 * Reads a deck from chunks of UTF-8 (a file stream, a request body) in
 * batches of up to `batch` rows; RateFileError on the first bad line, and
 * when the file has no header or no row. `state` tells the header and the
 * count as it goes.
 */
export async function* readRateCsv(
  source: AsyncIterable<Buffer | string>,
  state: RateFileRead = { header: null, rows: 0 },
  batch = 5000,
): AsyncGenerator<RateFileRow[]> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const csv = new CsvRecords();
  const out: RateFileRow[] = [];
  let rows: RowReader | null = null;
  const take = (records: CsvRecord[]): void => {
    for (const r of records) {
      if (blank(r)) continue;
      if (rows === null) rows = new RowReader((state.header = readHeader(r)));
      else {
        out.push(rows.read(r));
        state.rows++;
      }
    }
  };
  const decode = (chunk: Buffer | string, stream: boolean): string => {
    if (typeof chunk === 'string') return chunk;
    try {
      return decoder.decode(chunk, { stream });
    } catch {
      throw new RateFileError(csv.line, null, null, 'the file is not UTF-8 text');
    }
  };
  for await (const chunk of source) {
    take(csv.push(decode(chunk, true)));
    while (out.length >= batch) yield out.splice(0, batch);
  }
  take(csv.push(decode(Buffer.alloc(0), false)));
  take(csv.end());
  if (state.header === null)
    throw new RateFileError(1, null, null, 'the file is empty: expected a header row (prefix,rate,...)');
  if (state.rows === 0) throw new RateFileError(2, null, null, 'no rate rows after the header');
  while (out.length > 0) yield out.splice(0, batch);
}
