/**
 * The benchmark's rate decks, the same for Trunkline and Kamailio: a seeded
 * pool of E.164 prefixes (every 1- and 2-digit country prefix, then
 * prefixes of 3 to 9 digits cut from random numbers, so decks nest: +4,
 * +44, +4420, +442079...), each carrier's deck a seeded draw of `perCarrier`
 * prefixes from the pool (the short ones always in), a random rate each.
 * The numbers looked up are pool prefixes filled with random digits to 12
 * digits, so each has a longest match in most carriers' decks.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

export interface DeckRow {
  prefix: string;
  /** Price per minute in micro-units (as the store keeps it). */
  rate: number;
}

export interface Decks {
  carriers: string[];
  /** By carrier, its rows. */
  rows: Map<string, DeckRow[]>;
  /** Numbers to look up, E.164. */
  numbers: string[];
  /** Distinct prefixes over all carriers. */
  distinctPrefixes: number;
}

/** mulberry32: a small seeded PRNG (the decks are the same on every run). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function digits(rand: () => number, n: number, firstNonZero: boolean): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    const lo = i === 0 && firstNonZero ? 1 : 0;
    s += String(lo + Math.floor(rand() * (10 - lo)));
  }
  return s;
}

/** Prefixes of 3-9 digits mostly 5-7 long, as carriers' breakouts are. */
const LENGTHS = [3, 4, 4, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 8, 8, 9];

/**
 * `carriers` decks of `perCarrier` rows drawn from a pool of
 * perCarrier / overlap prefixes (overlap: the share of the pool each
 * carrier has), and `lookups` numbers.
 */
export function makeDecks(o: {
  carriers: number;
  perCarrier: number;
  lookups: number;
  overlap?: number;
  seed?: number;
}): Decks {
  const rand = prng(o.seed ?? 20261207);
  const overlap = o.overlap ?? 0.8;
  const short: string[] = [];
  for (let d = 1; d <= 9; d++) {
    short.push(`+${d}`);
    for (let e = 0; e <= 9; e++) short.push(`+${d}${e}`);
  }
  const poolSize = Math.max(short.length, Math.ceil(o.perCarrier / overlap));
  const pool = new Set<string>(short);
  while (pool.size < poolSize) pool.add(`+${digits(rand, LENGTHS[Math.floor(rand() * LENGTHS.length)]!, true)}`);
  const long = [...pool].slice(short.length);
  const carriers = Array.from({ length: o.carriers }, (_, i) => `c${i + 1}`);
  const rows = new Map<string, DeckRow[]>();
  const used = new Set<string>();
  for (const c of carriers) {
    // A partial Fisher-Yates draw of the long prefixes; every carrier has the short ones.
    const picks = long.slice();
    const want = Math.min(picks.length, o.perCarrier - short.length);
    for (let i = 0; i < want; i++) {
      const j = i + Math.floor(rand() * (picks.length - i));
      [picks[i], picks[j]] = [picks[j]!, picks[i]!];
    }
    const mine = [...short, ...picks.slice(0, want)];
    for (const p of mine) used.add(p);
    // 0.001 to 0.500 per minute, whole micro-units.
    rows.set(
      c,
      mine.map((prefix) => ({ prefix, rate: 1000 + Math.floor(rand() * 499_000) })),
    );
  }
  const numbers: string[] = [];
  for (let i = 0; i < o.lookups; i++) {
    const p = long[Math.floor(rand() * long.length)] ?? short[0]!;
    numbers.push(p + digits(rand, Math.max(0, 13 - p.length), false));
  }
  return { carriers, rows, numbers, distinctPrefixes: used.size };
}

/** A rate in micro-units as the CSV's decimal (0.012345). */
export function rateText(micros: number): string {
  return `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
}

/** Writes a deck as the CSV carriers send (`prefix,rate,increment`). */
export async function writeDeckCsv(file: string, rows: readonly DeckRow[]): Promise<void> {
  const out = createWriteStream(file);
  out.write('prefix,rate,increment\n');
  const CHUNK = 10_000;
  for (let i = 0; i < rows.length; i += CHUNK) {
    const text = rows
      .slice(i, i + CHUNK)
      .map((r) => `${r.prefix},${rateText(r.rate)},60/60\n`)
      .join('');
    if (!out.write(text)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}
