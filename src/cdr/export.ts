/**
 * `trunkline cdr export` and GET /api/v1/cdrs/export: the CDRs of one
 * account (the account a call was billed to when it ended) whose call
 * started in [from, to), oldest first, as CSV (RFC 4180: a header row, the
 * columns of CDR_COLUMNS, CRLF) or as one JSON array of the objects `cdr
 * list --json` prints. Streamed: a page of the store at a time
 * (CdrRepo.range), a chunk of text per page.
 */
import { cdrViews } from '../api/shapes.js';
import { csvLine } from '../api/csv.js';
import type { Store } from '../store/index.js';
import { ValidationError } from '../store/errors.js';
import { cdrJson } from '../store/json.js';
import type { CdrRange } from '../store/repos/cdrs.js';
import { checkName } from '../trunking/validate.js';

export const CDR_EXPORT_FORMATS = ['csv', 'json'] as const;
export type CdrExportFormat = (typeof CDR_EXPORT_FORMATS)[number];

/** The CSV columns, in this order (README.md): the fields of a CDR's JSON. */
export const CDR_COLUMNS: readonly string[] = Object.keys(cdrViews.object.shape);

export interface CdrExportQuery extends CdrRange {
  format: CdrExportFormat;
}

const ISO = /^\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)?$/;

/** An ISO 8601 time with a date (`2026-01-31`, `2026-01-31T12:00:00Z`, with an offset) in ms, or null. */
export function isoTimeOf(value: string): number | null {
  const v = value.trim();
  const t = ISO.test(v) ? Date.parse(v) : NaN;
  return Number.isNaN(t) ? null : t;
}

/**
 * The export as chunks of text, once the query is checked: NotFoundError
 * for an unknown account and ValidationError for an empty range come
 * before the first chunk (an API can still answer 404 or 400).
 */
export async function cdrExport(store: Store, q: CdrExportQuery): Promise<AsyncGenerator<string>> {
  const account = checkName(q.account, 'account');
  if (q.to <= q.from) throw new ValidationError('to', 'expected a time after from');
  await store.accounts.show(account);
  return q.format === 'csv' ? csvChunks(store, { ...q, account }) : jsonChunks(store, { ...q, account });
}

async function* csvChunks(store: Store, q: CdrRange): AsyncGenerator<string> {
  yield `${CDR_COLUMNS.join(',')}\r\n`;
  for await (const page of store.cdrs.range(q)) yield page.map((c) => csvLine(CDR_COLUMNS, cdrJson(c))).join('');
}

async function* jsonChunks(store: Store, q: CdrRange): AsyncGenerator<string> {
  let sep = '[\n';
  for await (const page of store.cdrs.range(q)) {
    let text = '';
    for (const c of page) {
      text += `${sep}${JSON.stringify(cdrJson(c))}`;
      sep = ',\n';
    }
    yield text;
  }
  yield sep === '[\n' ? '[]\n' : '\n]\n';
}
