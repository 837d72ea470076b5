/**
 * The `security:` key of the config file: one strict object per policy step,
 * each with `enabled` and its own defaults. Written
 * with zod directly (config/schema.ts only references it), in the same
 * message style: `KEY: expected WHAT, got VALUE`.
 *
 * ```yaml
 * security:
 *   trusted: [203.0.113.0/24]        # never banned, never flood-counted
 *   trustSelf: true                   # the server's own listen/advertise IPs (exactly)
 *   bans: {enabled: true}
 *   flood: {enabled: true, density: 20, unit: 2, banSeconds: 300}
 *   scanners: {enabled: true, userAgents: [friendly-scanner, ...]}
 *   maxForwards: {enabled: true, add: 70}
 *   keepAlive: {enabled: true}
 *   sanity: {enabled: true, checks: {expires: true, ...}}
 *   acl: {enabled: true}
 *   lists: {enabled: true, sqlInjection: true}
 *   bruteForce: {enabled: true, threshold: 3, window: 60, banSeconds: 300}
 *   callBarring: [{account: acme, prefixes: ["+", "00"], timeZone: Europe/Paris,
 *                  days: mon-fri, from: "08:00", to: "18:00", bar: outside}]
 * ```
 */
import { z } from 'zod';
import { isCidr } from '../net/cidr.js';
import { DEFAULT_SCANNER_AGENTS } from './scanners.js';
import { SANITY_CHECKS, type SanityCheckName } from './sanity.js';
import { parseDays, parseClock, isTimeZone, type BarringRule } from './call-barring.js';

function show(v: unknown): string {
  const t = typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  return t.length > 60 ? `${t.slice(0, 57)}...` : t;
}

function leaf<T>(expected: string, parse: (v: unknown) => T | undefined) {
  return z.unknown().transform((v, ctx): T => {
    const out = parse(v);
    if (out === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected ${expected}, got ${show(v)}`, input: v });
      return z.NEVER;
    }
    return out;
  });
}

const bool = () => leaf('true or false', (v) => (typeof v === 'boolean' ? v : undefined));
const int = (min: number, max: number, what: string) =>
  leaf(what, (v) => (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : undefined));
const text = (what: string, ok: (s: string) => boolean = (s) => s.trim() !== '') =>
  leaf(what, (v) => (typeof v === 'string' && ok(v) ? v : undefined));

const cidr = text('an IP address or CIDR block', isCidr);

const onOff = <T extends z.ZodRawShape>(extra: T = {} as T) =>
  z.strictObject({ enabled: bool().default(true), ...extra }).prefault({} as never);

const sanityChecks = z
  .strictObject({
    uriScheme: bool().default(true),
    expires: bool().default(true),
    proxyRequire: bool().default(true),
    digest: bool().default(true),
    duplicateTags: bool().default(true),
  } satisfies Record<SanityCheckName, unknown>)
  .prefault({});

/** Every named check has its key (a new check must be added above). */
export const SANITY_KEYS: readonly SanityCheckName[] = SANITY_CHECKS;

const barringRule = z
  .strictObject({
    account: text('an account name').optional(),
    trunk: text('a trunk name').optional(),
    prefixes: z.array(text('a dialled prefix like +44 or 00')).min(1),
    timeZone: text('an IANA time zone like Europe/Paris', isTimeZone).default('UTC'),
    days: text('days like mon-fri or sat,sun', (s) => parseDays(s) !== null).default('mon-sun'),
    from: text('a time HH:MM', (s) => parseClock(s) !== null).default('00:00'),
    to: text('a time HH:MM', (s) => parseClock(s) !== null).default('24:00'),
    bar: leaf('outside|inside|always', (v) =>
      v === 'outside' || v === 'inside' || v === 'always' ? v : undefined,
    ).default('outside'),
  })
  .transform((r): BarringRule => ({
    ...(r.account !== undefined && { account: r.account }),
    ...(r.trunk !== undefined && { trunk: r.trunk }),
    prefixes: r.prefixes,
    timeZone: r.timeZone,
    days: parseDays(r.days)!,
    from: parseClock(r.from)!,
    to: parseClock(r.to)!,
    bar: r.bar,
  }));

export const securitySchema = z
  .strictObject({
    enabled: bool().default(true),
    trusted: z.array(cidr).default([]),
    trustSelf: bool().default(true),
    bans: onOff(),
    flood: onOff({
      density: int(1, 1_000_000, 'requests per unit 1-1000000').default(20),
      unit: int(1, 3600, 'seconds 1-3600').default(2),
      banSeconds: int(1, 31_536_000, 'seconds 1-31536000').default(300),
    }),
    scanners: onOff({ userAgents: z.array(text('a user agent fragment')).default([...DEFAULT_SCANNER_AGENTS]) }),
    maxForwards: onOff({ add: int(1, 255, 'an integer 1-255').default(70) }),
    keepAlive: onOff(),
    sanity: onOff({ checks: sanityChecks }),
    acl: onOff(),
    lists: onOff({ sqlInjection: bool().default(true) }),
    bruteForce: onOff({
      threshold: int(1, 1000, 'an integer 1-1000').default(3),
      window: int(1, 86_400, 'seconds 1-86400').default(60),
      banSeconds: int(1, 31_536_000, 'seconds 1-31536000').default(300),
    }),
    callBarring: z.array(barringRule).default([]),
  })
  .prefault({});

export type SecurityConfig = z.output<typeof securitySchema>;

/** The defaults, as the schema gives them for an absent key. */
export function defaultSecurityConfig(): SecurityConfig {
  return securitySchema.parse(undefined);
}
