/**
 * An SDP writer with sdp-transform's output, byte for byte, at a fraction
 * of its cost. sdp-transform's write() walks its whole grammar for the
 * session and each m= section (some 150 `in` tests on the object, most for
 * attributes it does not have) and formats each line through a regular
 * expression: about 30 us for a one-section SDP, twice a call. This one
 * looks up the grammar entries of the properties the object has, in the
 * grammar's order, and fills each line's format string from its parts,
 * compiled once. test/media/sdp-writer.test.ts holds it to write()'s output.
 */
import sdpTransform, { type SessionDescription } from 'sdp-transform';

interface GrammarEntry {
  name?: string;
  push?: string;
  names?: string[];
  format: string | ((o: Record<string, unknown>) => string);
}

const GRAMMAR = (sdpTransform as unknown as { grammar: Record<string, GrammarEntry[]> }).grammar;

/** write()'s order: session types, then per m= section. */
const OUTER = ['v', 'o', 's', 'i', 'u', 'e', 'p', 'c', 'b', 't', 'r', 'z', 'a'];
const INNER = ['i', 'c', 'b', 'a'];

interface Slot {
  type: string;
  entry: GrammarEntry;
  order: number;
}

/** For one order of types: property name -> the entries naming it (as `name` or `push`); the slot lists of shapes met. */
interface Index {
  byKey: Map<string, Slot[]>;
  shapes: Map<string, Slot[]>;
}

function indexOf(types: readonly string[]): Index {
  const byKey = new Map<string, Slot[]>();
  let order = 0;
  for (const type of types) {
    for (const entry of GRAMMAR[type] ?? []) {
      const slot = { type, entry, order: order++ };
      for (const k of [entry.name, entry.push]) {
        if (k === undefined) continue;
        const list = byKey.get(k) ?? [];
        if (!list.includes(slot)) list.push(slot);
        byKey.set(k, list);
      }
    }
  }
  return { byKey, shapes: new Map() };
}

const OUTER_INDEX = indexOf(OUTER);
const INNER_INDEX = indexOf(INNER);

/** A format string cut at its %s, %d, %v and %% (each takes the next argument, as write()'s format does), compiled once. */
const compiled = new Map<string, { text: string[]; kinds: string[] }>();

function compile(fmt: string): { text: string[]; kinds: string[] } {
  let c = compiled.get(fmt);
  if (c !== undefined) return c;
  const text: string[] = [];
  const kinds: string[] = [];
  let last = 0;
  for (let i = 0; i < fmt.length - 1; i++) {
    if (fmt.charCodeAt(i) !== 0x25 /* % */) continue;
    const k = fmt[i + 1]!;
    if (k !== 's' && k !== 'd' && k !== 'v' && k !== '%') continue;
    text.push(fmt.slice(last, i));
    kinds.push(k);
    last = i + 2;
    i++;
  }
  text.push(fmt.slice(last));
  c = { text, kinds };
  compiled.set(fmt, c);
  return c;
}

/** write()'s format(): arguments in turn; a token without one stays as written. */
function format(fmt: string, args: unknown[]): string {
  const { text, kinds } = compile(fmt);
  let out = text[0]!;
  for (let j = 0; j < kinds.length; j++) {
    const k = kinds[j]!;
    if (j >= args.length) out += `%${k}`;
    else if (k === '%') out += '%';
    else if (k === 's') out += String(args[j]);
    else if (k === 'd') out += String(Number(args[j]));
    out += text[j + 1]!;
  }
  return out;
}

function makeLine(type: string, e: GrammarEntry, at: Record<string, unknown>): string {
  const fmt =
    typeof e.format === 'function'
      ? e.format((e.push !== undefined ? at : at[e.name!]) as Record<string, unknown>)
      : e.format;
  const args: unknown[] = [];
  if (e.names !== undefined) {
    const from = e.name !== undefined ? (at[e.name] as Record<string, unknown>) : at;
    for (const n of e.names) args.push(from[n]);
  } else args.push(at[e.name!]);
  return `${type}=${format(fmt, args)}`;
}

/** Key lists remembered per index (the shapes of session and m= objects met), at most this many. */
const MAX_SHAPES = 512;

/** The grammar entries an object with these properties may have lines for, in order; remembered by its key list. */
function slotsOf(keys: string[], index: Index): Slot[] {
  const sig = keys.join(',');
  let slots = index.shapes.get(sig);
  if (slots !== undefined) return slots;
  slots = [];
  for (const k of keys) for (const s of index.byKey.get(k) ?? []) if (!slots.includes(s)) slots.push(s);
  slots.sort((x, y) => x.order - y.order);
  if (index.shapes.size >= MAX_SHAPES) index.shapes.clear();
  index.shapes.set(sig, slots);
  return slots;
}

/** write()'s lines for one object: its grammar entries in order, by name, else each element of its push array. */
function linesOf(at: Record<string, unknown>, index: Index, out: string[]): void {
  for (const { type, entry } of slotsOf(Object.keys(at), index)) {
    if (entry.name !== undefined && entry.name in at && at[entry.name] != null) out.push(makeLine(type, entry, at));
    else if (entry.push !== undefined && entry.push in at && at[entry.push] != null) {
      for (const el of at[entry.push] as Array<Record<string, unknown>>) out.push(makeLine(type, entry, el));
    }
  }
}

/** The SDP text of a parsed (and rewritten) session, as sdp-transform's write() makes it, defaults included. */
export function writeSdp(session: SessionDescription): string {
  const s = session as unknown as Record<string, unknown> & { media: Array<Record<string, unknown>> };
  // write() fills these in (on the object) when missing.
  if (s.version == null) s.version = 0;
  if (s.name == null) s.name = ' ';
  for (const m of s.media) if (m.payloads == null) m.payloads = '';
  const out: string[] = [];
  linesOf(s, OUTER_INDEX, out);
  const mLine = GRAMMAR.m![0]!;
  for (const m of s.media) {
    out.push(makeLine('m', mLine, m));
    linesOf(m, INNER_INDEX, out);
  }
  return out.join('\r\n') + '\r\n';
}
