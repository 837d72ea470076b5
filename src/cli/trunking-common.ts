/**
 * What the trunking commands (account, trunk, did, carrier, route, cdr)
 * share: option values checked before the store opens, each error naming
 * its option (`cpm: expected an integer from 1 to 1000000, got "x"`), and
 * `show` printed as KEY VALUE lines.
 */
import { CliError } from './store.js';
import { formatTable, printJson, type Cell } from './output.js';
import { MAX_LIMIT } from '../trunking/validate.js';

/** `--cpm N`, `--max-calls N`: an integer from 1 to 1,000,000; undefined when absent. */
export function intOption(value: string | undefined, field: string, max = MAX_LIMIT): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^[0-9]{1,9}$/.test(v)) {
    const n = Number(v);
    if (n >= 1 && n <= max) return n;
  }
  throw new CliError(`${field}: expected an integer from 1 to ${max}, got ${JSON.stringify(value)}`);
}

/** `A,B,C` as a list (spaces around items dropped); undefined when absent; an empty item is an error. */
export function listOption(value: string | undefined, field: string): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === ''))
    throw new CliError(`${field}: expected a comma-separated list, got ${JSON.stringify(value)}`);
  return items;
}

/** A list cell: items joined by commas, `-` when empty. */
export function listCell(items: readonly string[]): string {
  return items.join(',');
}

/**
 * A `show`: with --json the object; else one line per key (the JSON key,
 * padded), lists comma-separated, `-` for nothing.
 */
export function printShow(object: Record<string, unknown>, json: boolean | undefined): void {
  if (json === true) {
    printJson(object);
    return;
  }
  const rows: Cell[][] = Object.entries(object).map(([k, v]) => [
    k,
    Array.isArray(v)
      ? v.join(',')
      : v === null || v === undefined
        ? null
        : typeof v === 'object'
          ? JSON.stringify(v)
          : (v as Cell),
  ]);
  // formatTable's first line is its header; a show has none.
  process.stdout.write(`${formatTable(['key', 'value'], rows).split('\n').slice(1).join('\n')}\n`);
}
