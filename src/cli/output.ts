/**
 * How management commands print: `list` as a table (a header, columns
 * aligned with two spaces) or, with --json, as a JSON array; `show` as
 * KEY VALUE lines or a JSON object. Times are ISO 8601 (UTC).
 */

export type Cell = string | number | boolean | null | undefined;

/** A cell as text: `-` for nothing. */
function cellText(value: Cell): string {
  if (value === null || value === undefined || value === '') return '-';
  return String(value).replace(/[\r\n\t]+/g, ' ');
}

/** The table as lines: header first, every column but the last padded to its widest cell. */
export function formatTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = [headers.map((h) => h.toUpperCase()), ...rows.map((r) => headers.map((_, i) => cellText(r[i])))];
  const widths = headers.map((_, i) => Math.max(...text.map((r) => r[i]!.length)));
  return text
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function printTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): void {
  process.stdout.write(`${formatTable(headers, rows)}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A `list`: a JSON array with --json, else a table of `columns` (JSON keys and their cells). */
export function printList<T>(
  items: readonly T[],
  json: boolean | undefined,
  toJson: (item: T) => Record<string, unknown>,
  columns: readonly [header: string, cell: (item: T) => Cell][],
): void {
  if (json === true) {
    printJson(items.map(toJson));
    return;
  }
  printTable(
    columns.map(([h]) => h),
    items.map((item) => columns.map(([, cell]) => cell(item))),
  );
}

/** Milliseconds since the epoch as ISO 8601 (UTC). */
export { isoTime } from '../store/json.js';

/** A one-line report of what a command did, on stdout. */
export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** `1 alias`, `2 aliases`. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
