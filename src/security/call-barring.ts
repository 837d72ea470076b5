/**
 * Step 10: call barring by time. A rule names an account and/or a trunk
 * (absent = any), dialled prefixes, a time window in a time zone (days and
 * HH:MM from/to, e.g. office hours), and when the prefixes are barred:
 * `outside` the window (international calls outside office hours),
 * `inside` it, or `always`.
 *
 * `checkCallBarring()` is a pure function of (rules, account, trunk,
 * dialled number, now): the trunking stage calls it for each outbound call
 * with the number it normalised, and refuses a barred call (403). The first
 * rule that bars wins; the longest-prefix question is left to the rules'
 * order, as written.
 */
export type Weekday = 0 | 1 | 2 | 3 | 4 | 5 | 6; // 0 = Sunday, as Date.getDay

export interface BarringRule {
  account?: string;
  trunk?: string;
  prefixes: string[];
  /** IANA time zone of the window (the account's). */
  timeZone: string;
  /** Days the window is open on. */
  days: ReadonlySet<Weekday>;
  /** Minutes after midnight, from inclusive, to exclusive (24:00 = 1440). */
  from: number;
  to: number;
  bar: 'outside' | 'inside' | 'always';
}

export interface BarringQuery {
  account: string | null;
  trunk: string | null;
  dialled: string;
  now: Date;
}

export type BarringVerdict = { barred: false } | { barred: true; rule: BarringRule; prefix: string; reason: string };

const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

export function checkCallBarring(rules: readonly BarringRule[], q: BarringQuery): BarringVerdict {
  for (const r of rules) {
    if (r.account !== undefined && r.account !== q.account) continue;
    if (r.trunk !== undefined && r.trunk !== q.trunk) continue;
    const prefix = r.prefixes.find((p) => q.dialled.startsWith(p));
    if (prefix === undefined) continue;
    const open = r.bar === 'always' ? true : inWindow(r, q.now);
    const barred = r.bar === 'always' || (r.bar === 'outside' ? !open : open);
    if (barred) {
      const when = r.bar === 'always' ? 'always' : `${r.bar} ${describeWindow(r)}`;
      return { barred: true, rule: r, prefix, reason: `calls to ${prefix} barred ${when}` };
    }
  }
  return { barred: false };
}

/** Whether `now` falls in the rule's window, in the rule's time zone. */
export function inWindow(r: BarringRule, now: Date): boolean {
  const { day, minutes } = localTime(now, r.timeZone);
  if (!r.days.has(day)) return false;
  return minutes >= r.from && minutes < r.to;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Weekday and minutes after midnight of `now` in `timeZone`. */
export function localTime(now: Date, timeZone: string): { day: Weekday; minutes: number } {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  let day = 0;
  let hour = 0;
  let minute = 0;
  for (const p of f.formatToParts(now)) {
    if (p.type === 'weekday') day = DAY_NAMES.indexOf(p.value.slice(0, 3).toLowerCase() as (typeof DAY_NAMES)[number]);
    else if (p.type === 'hour') hour = Number(p.value);
    else if (p.type === 'minute') minute = Number(p.value);
  }
  return { day: day as Weekday, minutes: hour * 60 + minute };
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false; // RangeError: a time zone Intl does not know
  }
}

/** `HH:MM` (00:00 to 24:00) as minutes after midnight, or null. */
export function parseClock(s: string): number | null {
  const m = /^(\d{1,2}):(\d{2})$/.exec(s.trim());
  if (m === null) return null;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (h > 24 || min > 59 || (h === 24 && min !== 0)) return null;
  return h * 60 + min;
}

/** `mon-fri`, `sat,sun`, `mon-wed,fri` (ranges may wrap: `fri-mon`), or null. */
export function parseDays(s: string): Set<Weekday> | null {
  const out = new Set<Weekday>();
  for (const part of s.toLowerCase().split(',')) {
    const [a, b] = part
      .trim()
      .split('-')
      .map((x) => x.trim());
    const i = DAY_NAMES.indexOf(a as (typeof DAY_NAMES)[number]);
    if (i < 0) return null;
    if (b === undefined) {
      out.add(i as Weekday);
      continue;
    }
    const j = DAY_NAMES.indexOf(b as (typeof DAY_NAMES)[number]);
    if (j < 0) return null;
    for (let k = i; ; k = (k + 1) % 7) {
      out.add(k as Weekday);
      if (k === j) break;
    }
  }
  return out.size > 0 ? out : null;
}

function describeWindow(r: BarringRule): string {
  const hm = (m: number): string => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  const days = DAY_NAMES.filter((_, i) => r.days.has(i as Weekday)).join(',');
  return `${days} ${hm(r.from)}-${hm(r.to)} ${r.timeZone}`;
}
