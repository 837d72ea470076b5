/**
 * The buy cost of a call, put into its CDR before the store gets it: an
 * answered outbound call is priced by the rate of the carrier that took it
 * (its deck's longest prefix of the dialled number in force when the call
 * was answered): fee + rate x the seconds billed by the deck's increments
 * (money.ts billedSeconds: 30/6 bills a 7 s call as 30 s). The seconds are
 * the CDR's duration (whole seconds, as `cdr list` shows them). Inbound
 * calls, calls not answered and carriers without a rate for the number stay
 * unpriced (cost null). Its sell price (`price`) likewise, by the account's
 * price for the number (src/store/repos/prices.ts) and that price's own
 * increments; null when the account has none.
 */
import type { Cdr, RateMatch } from './model.js';
import { billedSeconds, costMicros } from './money.js';

export type RateLookup = (carriers: readonly string[], number: string, at: number) => Promise<Map<string, RateMatch>>;
/** An account's sell price for a number at a time, or null. */
export type PriceLookup = (account: string, number: string, at: number) => Promise<RateMatch | null>;

/** fee + rate x the seconds `r`'s increments bill for `duration`; null when it overflows. */
function charge(r: RateMatch, duration: number): { amount: number; billed: number } | null {
  const billed = billedSeconds(duration, r);
  const amount = costMicros(r.rate, r.fee, billed);
  return amount === null ? null : { amount, billed };
}

/** The CDR with its cost, rate, matched prefix and seconds billed, or as it was when it is not priced. */
export async function pricedCdr(cdr: Cdr, rates: RateLookup, prices?: PriceLookup): Promise<Cdr> {
  const answered = cdr.answerAt !== null && cdr.status >= 200 && cdr.status < 300;
  // An emergency call is not priced (its number is no E.164 number a deck holds).
  if (cdr.direction !== 'outbound' || cdr.carrier === null || !answered || cdr.emergency === true) return cdr;
  const sell = prices === undefined || cdr.account === null ? null : await prices(cdr.account, cdr.to, cdr.answerAt!);
  const sold = sell === null ? null : charge(sell, cdr.duration);
  const out = sold === null ? cdr : { ...cdr, price: sold.amount };
  const r = (await rates([cdr.carrier], cdr.to, cdr.answerAt!)).get(cdr.carrier);
  const bought = r === undefined ? null : charge(r, cdr.duration);
  if (r === undefined || bought === null) return out;
  return { ...out, cost: bought.amount, rate: r.rate, ratePrefix: r.prefix, billed: bought.billed };
}
