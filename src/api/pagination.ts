/**
 * Cursor pagination for long collections (CDRs): `?limit=N&cursor=C`. The
 * response stays a JSON array; the next page's cursor comes in the
 * `Next-Cursor` header and a `Link: <...>; rel="next"` (RFC 8288), absent on
 * the last page. A cursor is the last row's sort key, opaque to clients
 * (base64url JSON), so a page is stable while rows are added.
 *
 * A resource's list query extends `pageQuery`; its list fetches `limit + 1`
 * rows after the decoded cursor and returns `page(rows, limit, keyOf)`.
 *
 * Collections that used to come whole (trunks, DIDs) page only when asked:
 * `optionalPageQuery` has no default limit, and `namePage` keeps the whole
 * list for a request without `limit` and `cursor` (scripts written against
 * it keep working) and pages by name otherwise.
 */
import { z } from 'zod';
import { ApiError } from './errors.js';

export const MAX_LIMIT = 1000;
export const DEFAULT_LIMIT = 100;

export const pageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(MAX_LIMIT).default(DEFAULT_LIMIT).describe(`rows per page, 1-${MAX_LIMIT}`),
  cursor: z.string().max(512).optional().describe('the Next-Cursor of the previous page'),
});

export interface Page<T> {
  items: T[];
  /** The cursor of the next page, null on the last one. */
  next: string | null;
}

export function isPage<T>(v: T[] | Page<T>): v is Page<T> {
  return !Array.isArray(v);
}

export function encodeCursor(key: unknown): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/** The key a cursor holds, checked by `schema`; 400 naming `cursor` when it is not one of ours. */
export function decodeCursor<T>(cursor: string, schema: z.ZodType<T>): T {
  try {
    const r = schema.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    if (r.success) return r.data;
  } catch {
    // not base64url JSON: not a cursor of ours, the 400 below says so
  }
  throw new ApiError(400, 'cursor: not a cursor given by this API');
}

/** Rows fetched with `limit + 1`: the first `limit` of them, and a cursor when there was one more. */
export function page<T>(rows: T[], limit: number, keyOf: (row: T) => unknown): Page<T> {
  if (rows.length <= limit) return { items: rows, next: null };
  const items = rows.slice(0, limit);
  return { items, next: encodeCursor(keyOf(items[items.length - 1]!)) };
}

/** `limit` and `cursor` for a collection that is whole unless a page is asked for. */
export const optionalPageQuery = {
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_LIMIT)
    .optional()
    .describe(`rows per page, 1-${MAX_LIMIT}; without it and cursor, the whole list`),
  cursor: z.string().max(512).optional().describe('the Next-Cursor of the previous page'),
};

/** What a store's list needs for one page by name: the names after `after`, at most `limit` (one more is fetched to know of a next page). */
export interface NameWindow {
  after?: string;
  limit?: number;
}

const nameKey = z.strictObject({ after: z.string().min(1).max(256) });

/**
 * Lists a collection ordered by its name (`key`): whole without limit and
 * cursor, else one page after the cursor's name.
 */
export async function namePage<T>(
  q: { limit?: number | undefined; cursor?: string | undefined },
  list: (w: NameWindow) => Promise<T[]>,
  key: (row: T) => string,
): Promise<T[] | Page<T>> {
  if (q.limit === undefined && q.cursor === undefined) return list({});
  const limit = q.limit ?? DEFAULT_LIMIT;
  const w: NameWindow = { limit: limit + 1 };
  if (q.cursor !== undefined) w.after = decodeCursor(q.cursor, nameKey).after;
  return page(await list(w), limit, (row) => ({ after: key(row) }));
}
