/**
 * The `cdr:` key of the config file: `webhook` POSTs each CDR as JSON
 * (src/cdr/webhook.ts); absent, none is sent. schema.ts references it.
 */
import { z } from 'zod';
import { int, leaf, str } from './leaf.js';

/** An http:// or https:// URL with a host. */
const httpUrl = str('an http:// or https:// URL', (s) => {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false; // TypeError: not a URL, the message names the key
  }
});

/** HTTP header names (RFC 9110 tokens) to values on one line. */
const httpHeaders = leaf<Record<string, string>>('a mapping of header names to values on one line', (v) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const entries = Object.entries(v);
  const ok = entries.every(
    ([k, x]) => /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(k) && typeof x === 'string' && !/[\r\n]/.test(x),
  );
  return ok ? Object.fromEntries(entries) : undefined;
});

export const cdrSchema = z
  .strictObject({
    webhook: z
      .strictObject({
        url: httpUrl,
        /** Seconds one POST may take. */
        timeout: int(1, 300, 'seconds 1-300').default(10),
        /** Refusals (4xx but 408, 429) of one CDR before it is parked until the next start. */
        retries: int(0, 1000, 'a count 0-1000').default(10),
        /** The longest wait between two tries (1 s, doubling). */
        maxBackoff: int(1, 3600, 'seconds 1-3600').default(300),
        /** POSTs at once. */
        concurrency: int(1, 64, 'an integer 1-64').default(4),
        /** Sent with each POST (an Authorization header, say). */
        headers: httpHeaders.default({}),
      })
      .optional(),
  })
  .prefault({});
