/**
 * Money as exact integers: prices and costs are kept in micro-units (one
 * millionth of the deck's currency unit), never in floats. A rate is a
 * price per minute; a call is billed by its deck's increments (`30/6`: the
 * first 30 s, then steps of 6 s) and costs fee + rate x billed seconds / 60,
 * rounded half up to a micro-unit (the only rounding, done in BigInt).
 */

/** Micro-units per unit. */
export const MICROS = 1_000_000;
/** The largest price per minute or fee a deck may hold (exclusive), in units. */
export const MAX_PRICE = 1_000_000;
/** The largest increment, in seconds (one hour). */
export const MAX_INCREMENT = 3600;

const DECIMAL = /^(\d{1,7})(?:\.(\d+))?$/;

/**
 * `0.0125` -> 12500 (micro-units); a string saying what is wrong when it is
 * not a non-negative decimal below MAX_PRICE with at most 6 significant
 * decimal places (trailing zeros beyond them are fine).
 */
export function parseMicros(text: string): number | { problem: string } {
  const m = DECIMAL.exec(text);
  if (m === null) return { problem: 'expected a decimal number like 0.0125' };
  const frac = (m[2] ?? '').replace(/0+$/, '');
  if (frac.length > 6) return { problem: 'at most 6 decimal places' };
  const units = Number(m[1]);
  if (units >= MAX_PRICE) return { problem: `must be below ${MAX_PRICE}` };
  return units * MICROS + Number(frac.padEnd(6, '0'));
}

/** 12500 -> `0.0125`; at least 2 decimals (`1.00`), never more than needed beyond them. */
export function formatMicros(micros: number): string {
  const neg = micros < 0;
  const abs = Math.abs(micros);
  const units = Math.floor(abs / MICROS);
  let frac = String(abs % MICROS)
    .padStart(6, '0')
    .replace(/0+$/, '');
  if (frac.length < 2) frac = frac.padEnd(2, '0');
  return `${neg ? '-' : ''}${units}.${frac}`;
}

/** How a deck bills: the first increment, then the next ones, in seconds (`30/6`). */
export interface Increments {
  first: number;
  next: number;
}

/**
 * `60/60`, `1/1`, `30/6` -> {first, next}; a problem when it is not two
 * whole numbers of seconds from 1 to MAX_INCREMENT separated by `/`.
 */
export function parseIncrements(text: string): Increments | { problem: string } {
  const m = /^(\d{1,4})\s*\/\s*(\d{1,4})$/.exec(text);
  const first = m === null ? NaN : Number(m[1]);
  const next = m === null ? NaN : Number(m[2]);
  if (!(first >= 1 && first <= MAX_INCREMENT && next >= 1 && next <= MAX_INCREMENT))
    return { problem: `expected FIRST/NEXT seconds like 60/60, 1/1 or 30/6 (1 to ${MAX_INCREMENT} each)` };
  return { first, next };
}

export function formatIncrements(i: Increments): string {
  return `${i.first}/${i.next}`;
}

/**
 * The seconds a call of `duration` seconds is billed: none when it lasted
 * none, else at least the first increment, then whole next increments
 * (30/6: 7 s -> 30, 31 s -> 36; 60/60: 61 s -> 120; 1/1: as it lasted).
 */
export function billedSeconds(duration: number, inc: Increments): number {
  if (!(duration > 0)) return 0;
  if (duration <= inc.first) return inc.first;
  return inc.first + Math.ceil((duration - inc.first) / inc.next) * inc.next;
}

/**
 * fee + rate x billed / 60 in micro-units, rounded half up; null when it
 * would not fit in a safe integer (a price no deck holds).
 */
export function costMicros(rateMicros: number, feeMicros: number, billed: number): number | null {
  const scaled = BigInt(rateMicros) * BigInt(billed);
  const cost = BigInt(feeMicros) + (scaled * 2n + 60n) / 120n;
  return cost <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(cost) : null;
}
