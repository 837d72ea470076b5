/**
 * CSV as RFC 4180 writes it: a header row of field names, CRLF line ends, a
 * field holding a comma, a quote or a line break quoted with its quotes
 * doubled; null is an empty field, an object its JSON.
 */

export function csvField(v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One row: the fields of `row` in the order of `fields`, CRLF at the end. */
export function csvLine(fields: readonly string[], row: Record<string, unknown>): string {
  return `${fields.map((f) => csvField(row[f])).join(',')}\r\n`;
}

export function toCsv(fields: readonly string[], rows: readonly unknown[]): string {
  let out = `${fields.join(',')}\r\n`;
  for (const row of rows) out += csvLine(fields, row as Record<string, unknown>);
  return out;
}
