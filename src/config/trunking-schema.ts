/**
 * The `trunking:` key of the config file: the B2BUA of trunk calls
 * (gateway failover timing, gateway OPTIONS monitoring, header rules per
 * trunk or carrier, RFC 4028 session timers, the transfer policy).
 * schema.ts references it.
 */
import { z } from 'zod';
import { bool, int, oneOf } from './leaf.js';
import { TRANSFER_POLICIES } from '../b2bua/transfer-policy.js';

const headerNameSchema = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'expected a header name');

/** One header rule: for calls toward `trunk` or `carrier` (exactly one of them). */
const headerRuleSchema = z
  .strictObject({
    trunk: z.string().min(1).optional(),
    carrier: z.string().min(1).optional(),
    keep: z.array(headerNameSchema).default([]),
    strip: z.array(headerNameSchema).default([]),
    add: z.record(headerNameSchema, z.string().regex(/^[^\r\n]*$/, 'expected a value on one line')).default({}),
  })
  .superRefine((r, ctx) => {
    if ((r.trunk === undefined) === (r.carrier === undefined))
      ctx.addIssue({ code: 'custom', path: ['trunk'], message: 'expected exactly one of trunk or carrier' });
  });

/** RFC 4028: no session interval below 90 s (4, 5); a week at most here. */
const sessionSeconds = () => int(90, 604_800, 'seconds 90-604800 (RFC 4028: at least 90)');

/** The session timer for the legs toward or from one trunk or carrier (exactly one of them); what it leaves out is the server-wide value. */
const sessionTimerOverrideSchema = z
  .strictObject({
    trunk: z.string().min(1).optional(),
    carrier: z.string().min(1).optional(),
    enabled: bool().optional(),
    interval: sessionSeconds().optional(),
    minSE: sessionSeconds().optional(),
  })
  .superRefine((r, ctx) => {
    if ((r.trunk === undefined) === (r.carrier === undefined))
      ctx.addIssue({ code: 'custom', path: ['trunk'], message: 'expected exactly one of trunk or carrier' });
  });

/** RFC 4028 session timers, each leg of a trunk call its own (src/b2bua/call-timers.ts). */
const sessionTimerSchema = z
  .strictObject({
    enabled: bool().default(true),
    /** The session interval asked for and preferred (RFC 4028 recommends 1800). */
    interval: sessionSeconds().default(1800),
    /** The shortest interval accepted (Min-SE; shorter: 422). */
    minSE: sessionSeconds().default(90),
    overrides: z.array(sessionTimerOverrideSchema).default([]),
  })
  .superRefine((t, ctx) => {
    const check = (interval: number, minSE: number, path: Array<string | number>): void => {
      if (interval < minSE)
        ctx.addIssue({ code: 'custom', path, message: `expected interval >= minSE (${minSE}), got ${interval}` });
    };
    check(t.interval, t.minSE, ['interval']);
    t.overrides.forEach((o, i) => {
      if (o.interval !== undefined || o.minSE !== undefined)
        check(o.interval ?? t.interval, o.minSE ?? t.minSE, [
          'overrides',
          i,
          o.interval !== undefined ? 'interval' : 'minSE',
        ]);
    });
  })
  .prefault({});

/** The transfer policy for REFERs from one trunk or carrier (exactly one of them). */
const transferOverrideSchema = z
  .strictObject({
    trunk: z.string().min(1).optional(),
    carrier: z.string().min(1).optional(),
    policy: oneOf(TRANSFER_POLICIES),
  })
  .superRefine((r, ctx) => {
    if ((r.trunk === undefined) === (r.carrier === undefined))
      ctx.addIssue({ code: 'custom', path: ['trunk'], message: 'expected exactly one of trunk or carrier' });
  });

/** What a REFER inside a call meets (src/b2bua/transfers.ts): refused, relayed to the other leg, or performed here. */
const transferSchema = z
  .strictObject({
    policy: oneOf(TRANSFER_POLICIES).default('relay'),
    overrides: z.array(transferOverrideSchema).default([]),
  })
  .prefault({});

/** The B2BUA of trunk calls: gateway failover timing and gateway OPTIONS monitoring. */
export const trunkingSchema = z
  .strictObject({
    /** Seconds without any answer (not even 100) from a gateway before the next one is tried. */
    gatewayTimeout: int(1, 60, 'seconds 1-60').default(5),
    /** Seconds a call may ring before it is cancelled (408). */
    ringTimeout: int(5, 600, 'seconds 5-600').default(180),
    ping: z
      .strictObject({
        /** Seconds between OPTIONS to each carrier gateway; 0 = no monitoring. */
        interval: int(0, 3600, 'seconds 0-3600').default(10),
        /** Seconds to wait for an OPTIONS answer. */
        timeout: int(1, 60, 'seconds 1-60').default(4),
        /** Failed pings in a row that mark a gateway down. */
        downAfter: int(1, 100, 'a count 1-100').default(3),
        /** Good pings in a row that mark it up again. */
        upAfter: int(1, 100, 'a count 1-100').default(2),
      })
      .prefault({}),
    /** Header rules per trunk or carrier: for the leg toward it, headers of the other side to let through, to remove, to add. */
    headers: z.array(headerRuleSchema).default([]),
    /** RFC 4028 session timers per leg: refreshed where we refresh, ended (BYE both legs) when a leg's session expires. */
    sessionTimer: sessionTimerSchema,
    /** REFER inside calls: `refuse` (403), `relay` (to the other leg, as any request), `perform` (done here). */
    transfer: transferSchema,
  })
  .prefault({});
