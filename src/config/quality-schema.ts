/**
 * The `routing:` key of the config file. `routing.quality`: the rolling window of each
 * carrier's and gateway's figures and the thresholds below which it is
 * demoted for a cool-down (src/trunking/quality.ts). A threshold of 0 is
 * not judged; all are 0 by default (figures kept, nobody demoted).
 * `routing.carriers`: per carrier, its gateways' priority groups, weights
 * and capacities (src/trunking/gateway-load.ts). `routing.module`: a
 * compiled ES module that may change each outbound call's routing
 * (src/trunking/routing-module.ts), given at most `routing.moduleBudgetMs`.
 */
import { z } from 'zod';
import { int, oneOf } from './leaf.js';
import type { CarrierSetting } from '../trunking/gateway-load.js';

export const qualitySchema = z
  .strictObject({
    /** The last N attempts of each carrier and gateway. */
    window: int(1, 10_000, 'a count 1-10000').default(100),
    /** And none older than this (minutes; 0: no age limit). */
    windowMinutes: int(0, 10_080, 'minutes 0-10080').default(60),
    /** Attempts before a carrier or gateway is judged. */
    minCalls: int(1, 10_000, 'a count 1-10000').default(20),
    /** Answer-seizure ratio, percent (0: not judged). */
    minAsr: int(0, 100, 'a percent 0-100').default(0),
    /** Network effectiveness ratio, percent (0: not judged). */
    minNer: int(0, 100, 'a percent 0-100').default(0),
    /** Post-dial delay, ms (0: not judged). */
    maxPdd: int(0, 600_000, 'ms 0-600000').default(0),
    /** MOS estimate, 1-5 (0: not judged). */
    minMos: z
      .unknown()
      .transform((v, ctx): number => {
        if (typeof v === 'number' && (v === 0 || (v >= 1 && v <= 5))) return v;
        ctx.addIssue({ code: 'custom', message: `expected 0 or a MOS 1-5, got ${JSON.stringify(v)}`, input: v });
        return z.NEVER;
      })
      .default(0),
    /** Seconds a demoted carrier or gateway stays demoted. */
    coolDown: int(1, 86_400, 'seconds 1-86400').default(300),
  })
  .prefault({});

/** One gateway of a carrier: its priority group, weight in it, capacity. */
const gatewaySettingSchema = z.strictObject({
  uri: z.string().min(1),
  /** Lower first. */
  priority: int(0, 1000, 'an integer 0-1000').default(1),
  weight: int(1, 1_000_000, 'an integer 1-1000000').default(1),
  /** Concurrent calls (absent: no limit). */
  maxCalls: int(1, 1_000_000, 'a count 1-1000000').optional(),
});

/** A carrier's load settings (src/trunking/gateway-load.ts). */
const carrierSettingSchema = z.strictObject({
  carrier: z.string().min(1),
  /** Concurrent calls over all its gateways (absent: no limit). */
  maxCalls: int(1, 1_000_000, 'a count 1-1000000').optional(),
  /** How a priority group's gateways share calls: smooth weighted round-robin, or a hash of the Call-ID. */
  balance: oneOf(['weighted', 'hash'] as const).default('weighted'),
  gateways: z.array(gatewaySettingSchema).default([]),
});

/** `routing.carriers` as src/trunking/gateway-load.ts takes it. */
export function carrierSettings(routing: z.output<typeof routingSchema>): CarrierSetting[] {
  return routing.carriers.map((c) => ({
    carrier: c.carrier,
    maxCalls: c.maxCalls ?? null,
    balance: c.balance,
    gateways: c.gateways.map((g) => ({
      uri: g.uri,
      priority: g.priority,
      weight: g.weight,
      maxCalls: g.maxCalls ?? null,
    })),
  }));
}

/** The `routing:` key: how outbound calls pick their carriers and gateways beyond the routes in the store. */
export const routingSchema = z
  .strictObject({
    quality: qualitySchema,
    carriers: z.array(carrierSettingSchema).default([]),
    /** A routing module's file (JavaScript, ESM; relative: to the config file). */
    module: z.string().min(1).optional(),
    /** How long the module may take per call (ms); longer: the table's decision stands. */
    moduleBudgetMs: int(1, 10_000, 'ms 1-10000').default(50),
  })
  .superRefine((r, ctx) => {
    const seen = new Set<string>();
    r.carriers.forEach((c, i) => {
      if (seen.has(c.carrier))
        ctx.addIssue({ code: 'custom', path: ['carriers', i, 'carrier'], message: `carrier ${c.carrier} given twice` });
      seen.add(c.carrier);
    });
  })
  .prefault({});
