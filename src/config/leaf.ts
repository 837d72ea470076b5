/**
 * The config's leaf values: small parsers whose issue reads
 * `KEY: expected WHAT, got VALUE` (load.ts prefixes the key), shared by
 * the config's schema files (schema.ts, trunking-schema.ts, cdr-schema.ts).
 */
import { z } from 'zod';

/** How a value looks in a message: strings quoted, objects as JSON, cut short. */
export function showValue(v: unknown): string {
  let text: string;
  if (v === undefined) text = 'nothing';
  else if (typeof v === 'string') text = JSON.stringify(v);
  else if (typeof v === 'bigint') text = `${v}`;
  else {
    try {
      text = JSON.stringify(v) ?? String(v);
    } catch {
      text = String(v); // a cycle or a BigInt inside: JSON cannot show it
    }
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * A leaf value: `parse` returns the parsed value or undefined when the input is
 * not acceptable; the issue then reads `expected EXPECTED, got INPUT`.
 */
export function leaf<T>(expected: string, parse: (v: unknown) => T | undefined) {
  return z.unknown().transform((v, ctx): T => {
    const out = parse(v);
    if (out === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected ${expected}, got ${showValue(v)}`, input: v });
      return z.NEVER;
    }
    return out;
  });
}

export const str = (expected: string, ok: (s: string) => boolean = () => true) =>
  leaf(expected, (v) => (typeof v === 'string' && ok(v) ? v : undefined));

export const int = (min: number, max: number, expected = `an integer ${min}-${max}`) =>
  leaf(expected, (v) => (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : undefined));

export const bool = () => leaf('true or false', (v) => (typeof v === 'boolean' ? v : undefined));

export const oneOf = <T extends string>(values: readonly T[]) =>
  leaf(values.join('|'), (v) =>
    typeof v === 'string' && (values as readonly string[]).includes(v) ? (v as T) : undefined,
  );

export const path = () => str('a file path', (s) => s.trim() !== '' && !s.includes('\0'));

/** A regular expression the routing stage will compile. */
export const regex = () =>
  str('a regular expression', (s) => {
    try {
      new RegExp(s);
      return true;
    } catch {
      return false; // SyntaxError: the message names the key
    }
  });

/** One value or a non-empty list of them; one value becomes a list of one. */
export function oneOrList<T extends z.ZodType>(item: T, expected: string) {
  return z.preprocess(
    (v) => (typeof v === 'string' ? [v] : v),
    z.array(item, { error: (iss) => `expected ${expected}, got ${showValue(iss.input)}` }).min(1, {
      error: `expected ${expected}, got an empty list`,
    }),
  );
}
