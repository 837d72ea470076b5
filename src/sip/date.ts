/**
 * SIP-date (RFC 3261 20.17, 25.1): rfc1123-date = wkday "," SP date1 SP time SP "GMT".
 * Returns the time in ms since the epoch, or null when not that form.
 */
const WKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function parseHttpDate(s: string): number | null {
  // "Fri, 01 Jan 2010 16:00:00 GMT" is 29 characters.
  if (s.length !== 29 || s[3] !== ',' || s[4] !== ' ' || !s.endsWith(' GMT')) return null;
  if (!WKDAYS.includes(s.slice(0, 3))) return null;
  const day = num(s, 5, 2);
  const month = MONTHS.indexOf(s.slice(8, 11));
  const year = num(s, 12, 4);
  const hh = num(s, 17, 2);
  const mm = num(s, 20, 2);
  const ss = num(s, 23, 2);
  if (s[7] !== ' ' || s[11] !== ' ' || s[16] !== ' ' || s[19] !== ':' || s[22] !== ':') return null;
  if (
    month < 0 ||
    day < 1 ||
    day > 31 ||
    hh > 23 ||
    mm > 59 ||
    ss > 60 ||
    year < 0 ||
    day < 0 ||
    hh < 0 ||
    mm < 0 ||
    ss < 0
  )
    return null;
  return Date.UTC(year, month, day, hh, mm, ss);
}

export function formatHttpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

function num(s: string, at: number, len: number): number {
  let n = 0;
  for (let i = at; i < at + len; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}
