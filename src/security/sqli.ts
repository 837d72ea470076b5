/**
 * SQL-injection-like content in user parts and display names (as
 * Kamailio's secfilter `secf_check_sqli_*`): a SIP user part never needs a
 * quote, a comment opener or a statement separator; scanners that probe for
 * a SQL-backed registrar put exactly those there. No regular expression:
 * a few indexOf over the lowercased, %-decoded text.
 */
const USER_TOKENS = ["'", '"', '--', '/*', '*/', '\\'];
const DISPLAY_TOKENS = ['--', '/*', '*/'];
const KEYWORDS = [
  'select ',
  'union ',
  'insert ',
  'delete ',
  'drop ',
  'update ',
  ' or 1=1',
  "' or '",
  'sleep(',
  'benchmark(',
];

/** Whether a user part (as written, %-escaped) looks like an injection attempt. */
export function suspiciousUser(user: string): boolean {
  const s = decode(user).toLowerCase();
  for (const t of USER_TOKENS) if (s.includes(t)) return true;
  return hasKeywordWithQuote(s);
}

/**
 * Whether a display name looks like an injection attempt: comment markers,
 * or a quote together with a statement separator or an SQL keyword (a plain
 * apostrophe, "O'Brien", passes).
 */
export function suspiciousDisplayName(name: string): boolean {
  const s = name.toLowerCase();
  for (const t of DISPLAY_TOKENS) if (s.includes(t)) return true;
  if (!s.includes("'")) return false;
  return s.includes(';') || s.includes('=') || hasKeywordWithQuote(s);
}

function hasKeywordWithQuote(s: string): boolean {
  if (!s.includes("'") && !s.includes('"')) return false;
  for (const k of KEYWORDS) if (s.includes(k)) return true;
  return false;
}

function decode(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // a stray % (URIError): scanned as written
  }
}
