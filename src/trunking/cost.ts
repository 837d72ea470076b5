/**
 * The buy cost of a call, put into its CDR before the store gets it: an
 * answered outbound call is priced by the rate of the carrier that took it
 * (its deck's longest prefix of the dialled number in force when the call
 * was answered): fee + rate x the seconds billed by the deck's increments
 * (money.ts billedSeconds: 30/6 bills a 7 s call as 30 s). The seconds are
 * the CDR's duration (whole seconds, as `cdr list` shows them). Inbound
 * calls, calls not answered and carriers without a rate for the number stay
 * unpriced (cost null).
 */
import type { Cdr, RateMatch } from './model.js';
import { billedSeconds, costMicros } from './money.js';

export type RateLookup = (carriers: readonly string[], number: string, at: number) => Promise<Map<string, RateMatch>>;

/** The CDR with its cost, rate, matched prefix and seconds billed, or as it was when it is not priced. */
export async function pricedCdr(cdr: Cdr, rates: RateLookup): Promise<Cdr> {
  const answered = cdr.answerAt !== null && cdr.status >= 200 && cdr.status < 300;
  // An emergency call is not priced (its number is no E.164 number a deck holds).
  if (cdr.direction !== 'outbound' || cdr.carrier === null || !answered || cdr.emergency === true) return cdr;
  const r = (await rates([cdr.carrier], cdr.to, cdr.answerAt!)).get(cdr.carrier);
  if (r === undefined) return cdr;
  const billed = billedSeconds(cdr.duration, r);
  const cost = costMicros(r.rate, r.fee, billed);
  if (cost === null) return cdr;
  return { ...cdr, cost, rate: r.rate, ratePrefix: r.prefix, billed };
}
