/**
 * The `routing.quality:` key of the config file: the rolling window of each
 * carrier's and gateway's figures and the thresholds below which it is
 * demoted for a cool-down (src/trunking/quality.ts). A threshold of 0 is
 * not judged; all are 0 by default (figures kept, nobody demoted).
 */
import { z } from 'zod';
import { int } from './leaf.js';

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

/** The `routing:` key: how outbound calls pick their carriers beyond the routes in the store. */
export const routingSchema = z
  .strictObject({
    quality: qualitySchema,
  })
  .prefault({});
