/**
 * Dial plans: how a trunk's PBX or a carrier writes numbers, and the rules
 * that turn them into E.164 and back (model.ts DialPlan).
 *
 * Received (from a trunk or a carrier), `receiveNumber`:
 *   1. the visual separators (RFC 3966 5.1.1) are dropped;
 *   2. an emergency number of the plan (callee only) is kept as it is:
 *      never given a country code, never refused for its form;
 *   3. the first `in` rule that matches rewrites the number (a rule may
 *      turn a local form into an emergency number: checked again);
 *   4. `+` and digits: E.164 as it is; the international prefix (`00`,
 *      `011`) then digits: the country code follows; the national prefix
 *      (`0`, `1`) then digits: the plan's country code replaces it; other
 *      digits: E.164 without its plus (what most carriers send), or, in a
 *      plan without a national prefix (IT, ES), the national number.
 *   Without a plan: `00` is the international prefix, a leading `0` is
 *   refused (no country to give it), and DEFAULT_EMERGENCY are emergency
 *   numbers.
 *
 * Sent (to a carrier or a trunk), `sendNumber`: format `e164` as `+CC...`
 * (or without `+` for a carrier set so), `national` as the national prefix
 * and the national number inside the plan's country and the international
 * prefix and the number elsewhere, `international` always with the
 * international prefix; then the first `out` rule that matches. An
 * emergency number goes as it is (out rules still apply).
 */
import type { DialPlan, DialPlanRule } from './model.js';
import { NumberError, normalizeNumber } from './e164.js';

/** Emergency numbers of a trunk or carrier without a dial plan (GSM's 112 and 911, and 999). */
export const DEFAULT_EMERGENCY: readonly string[] = ['112', '911', '999'];

interface CountryDefaults {
  national: string;
  international: string;
  emergency: string[];
}

/** Prefixes and emergency numbers of some countries, by country code: the defaults of a new plan. */
const COUNTRIES: ReadonlyMap<string, CountryDefaults> = new Map([
  ['1', { national: '1', international: '011', emergency: ['911', '112'] }],
  ['7', { national: '8', international: '810', emergency: ['112', '101', '102', '103', '104'] }],
  ['27', { national: '0', international: '00', emergency: ['112', '10111', '10177'] }],
  ['33', { national: '0', international: '00', emergency: ['112', '15', '17', '18', '114'] }],
  ['34', { national: '', international: '00', emergency: ['112', '091', '092', '061', '080'] }],
  ['39', { national: '', international: '00', emergency: ['112', '113', '115', '118'] }],
  ['44', { national: '0', international: '00', emergency: ['999', '112'] }],
  ['49', { national: '0', international: '00', emergency: ['112', '110'] }],
  ['55', { national: '0', international: '00', emergency: ['190', '192', '193'] }],
  ['61', { national: '0', international: '0011', emergency: ['000', '112', '106'] }],
  ['64', { national: '0', international: '00', emergency: ['111'] }],
  ['81', { national: '0', international: '010', emergency: ['110', '119', '118'] }],
  ['86', { national: '0', international: '00', emergency: ['110', '119', '120', '122'] }],
  ['91', { national: '0', international: '00', emergency: ['112', '100', '101', '102', '108'] }],
]);

/** A new plan's national and international prefixes and emergency numbers for country code `cc`. */
export function countryDefaults(cc: string): CountryDefaults {
  const d = COUNTRIES.get(cc);
  return d === undefined ? { national: '0', international: '00', emergency: ['112'] } : { ...d };
}

/** A number as received: E.164, or an emergency number as dialled. */
export type ReceivedNumber = { kind: 'e164'; number: string } | { kind: 'emergency'; number: string };

/** The number of a bare user part, `sip:`/`tel:` URI, separators dropped (`+` kept), or NumberError. */
function digitsOf(input: string): string {
  const e164 = normalizeProbe(input);
  if (e164 !== null) return e164;
  throw new NumberError(`not a phone number: ${JSON.stringify(input)}`);
}

/** The user part's characters (digits, a leading `+`), separators dropped; null when other characters. */
function normalizeProbe(input: string): string | null {
  let s = input.trim();
  const lower = s.slice(0, 5).toLowerCase();
  if (lower.startsWith('sip:') || lower.startsWith('sips:') || lower.startsWith('tel:')) {
    const at = s.indexOf('@');
    const start = s.indexOf(':') + 1;
    s = s.slice(start, at < 0 ? undefined : at);
    const semi = s.indexOf(';');
    if (semi >= 0) s = s.slice(0, semi);
  }
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if ((c >= '0' && c <= '9') || (c === '+' && i === 0)) out += c;
    else if (c === '-' || c === '.' || c === '(' || c === ')' || c === ' ') continue;
    else return null;
  }
  return out === '' || out === '+' ? null : out;
}

/** The first rule of `direction` matching `n`, applied; `n` when none matches. */
export function applyRules(n: string, rules: readonly DialPlanRule[], direction: 'in' | 'out'): string {
  for (const r of rules) {
    if (r.direction !== direction) continue;
    if (r.match.startsWith('^')) {
      const re = new RegExp(r.match);
      if (re.test(n)) return n.replace(re, r.replace);
    } else if (n.startsWith(r.match)) return r.replace + n.slice(r.match.length);
  }
  return n;
}

function emergencyList(plan: DialPlan | null): readonly string[] {
  return plan === null ? DEFAULT_EMERGENCY : plan.emergency;
}

/**
 * A callee (`callee` true) or caller number as a trunk or carrier with this
 * plan sends it: E.164, or an emergency number (callee only); NumberError
 * saying why not.
 */
export function receiveNumber(input: string, plan: DialPlan | null, callee: boolean): ReceivedNumber {
  if (typeof input !== 'string' || input.length === 0 || input.length > 256) throw new NumberError('expected a number');
  // Letters, `*`, `#`... before any rule: normalizeNumber's own error says which character.
  const probe = normalizeProbe(input);
  if (probe === null) return { kind: 'e164', number: normalizeNumber(input) };
  const emergency = emergencyList(plan);
  if (callee && emergency.includes(probe)) return { kind: 'emergency', number: probe };
  if (plan === null) return { kind: 'e164', number: normalizeNumber(probe) };
  const n = applyRules(probe, plan.rules, 'in');
  if (callee && emergency.includes(n)) return { kind: 'emergency', number: n };
  return { kind: 'e164', number: toE164(digitsOf(n), plan, input) };
}

function toE164(n: string, plan: DialPlan, input: string): string {
  if (n.startsWith('+')) return normalizeNumber(n);
  const { internationalPrefix: intl, nationalPrefix: nat, country } = plan;
  // The international prefix first: it may begin with the national one (`00` and `0`).
  if (intl !== '' && n.startsWith(intl)) return normalizeNumber(`+${n.slice(intl.length)}`);
  if (nat !== '' && n.startsWith(nat)) {
    const rest = n.slice(nat.length);
    if (rest === '') throw new NumberError(`only the national prefix: ${JSON.stringify(input)}`);
    return normalizeNumber(`+${country}${rest}`);
  }
  // A country without a trunk prefix (IT, ES): a national number is dialled as it is, its own 0 kept.
  if (nat === '') return normalizeNumber(`+${country}${n}`);
  // Other digits: E.164 without its plus; one starting with 0 has no country (normalizeNumber refuses it).
  return normalizeNumber(n);
}

/** How a carrier's numbers go without a plan (and under a plan of format e164). */
export interface PlusOption {
  plus: boolean;
}

/** `number` (E.164, or an emergency number when `emergency`) as this plan writes it, then its `out` rules. */
export function sendNumber(number: string, plan: DialPlan | null, emergency: boolean, opt: PlusOption): string {
  let n: string;
  if (emergency || !number.startsWith('+')) n = number;
  else if (plan === null || plan.format === 'e164') n = opt.plus ? number : number.slice(1);
  else if (plan.format === 'national' && number.startsWith(`+${plan.country}`))
    n = plan.nationalPrefix + number.slice(1 + plan.country.length);
  else n = plan.internationalPrefix + number.slice(1);
  return plan === null ? n : applyRules(n, plan.rules, 'out');
}
