/**
 * The shapes of the rate repository (rates.ts): a deck, its rows as
 * listed and shown, an import's result, and the prefixes a lookup tries.
 */
import type { RateTable } from '../schema.js';
import type { RateRow } from '../../trunking/rate-csv.js';

/** The longest prefix a lookup tries: `+` and 15 digits. */
const MAX_NUMBER = 16;
/** Rows per page of `list` when none is asked for, and the most. */
export const RATE_DEFAULT_LIMIT = 100;
export const RATE_MAX_LIMIT = 10_000;

/** One rate of a carrier's active deck. */
export interface RateInfo extends RateRow {
  carrier: string;
}

/** A carrier's active deck. */
export interface RateDeck {
  carrier: string;
  rows: number;
  source: string | null;
  /** When it became active (ms since the epoch). */
  activatedAt: number;
}

export interface RateImportResult {
  carrier: string;
  /** Rows of the file. */
  imported: number;
  /** Rows of the deck now (with those kept from the one before, unless replaced). */
  total: number;
  replaced: boolean;
}

export interface RateListFilter {
  carrier?: string;
  /** Only prefixes starting with this (`+44` lists +44, +441, ...). */
  prefix?: string;
  /** The page after this row. */
  after?: { carrier: string; prefix: string; effectiveAt: number };
  limit?: number;
}

/** `rate show`: the rows of one prefix (newest first) and which of them is in force. */
export interface RateShow {
  carrier: string;
  /** The prefix asked for, as normalised. */
  asked: string;
  /** The prefix whose rows these are: the one asked, or the longest prefix of it that has rows. */
  prefix: string;
  rows: RateInfo[];
  /** The row in force at the time asked, or null (all of them start later). */
  inForce: RateInfo | null;
}

/** The columns a rate deck row and a price row share (`rates`, `account_prices`), as a RateRow. */
export type RateColumns = Pick<RateTable, 'prefix' | 'effective_at' | 'rate' | 'fee' | 'first_incr' | 'next_incr'>;

export function toRateRow(r: RateColumns): RateRow {
  return {
    prefix: r.prefix,
    rate: Number(r.rate),
    fee: Number(r.fee),
    first: r.first_incr,
    next: r.next_incr,
    effectiveAt: Number(r.effective_at),
  };
}

export function toInfo(carrier: string, r: RateColumns): RateInfo {
  return { carrier, ...toRateRow(r) };
}

/** `+442071234567` -> its prefixes `+4` ... `+442071234567`, longest first. */
export function prefixesOf(number: string): string[] {
  const out: string[] = [];
  for (let i = Math.min(number.length, MAX_NUMBER); i >= 2; i--) out.push(number.slice(0, i));
  return out;
}
