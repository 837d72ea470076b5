/**
 * Checks of a dial plan's values (model.ts DialPlan), each naming its field
 * as the store's ValidationError does (`country: ...`), so the CLI prints
 * it as is and the API answers 400 with it. A plan left without prefixes
 * or emergency numbers takes its country's (dial-plan.ts countryDefaults).
 */
import { ValidationError } from '../store/errors.js';
import { NUMBER_FORMATS, type DialPlan, type DialPlanRule, type NumberFormat } from './model.js';
import { countryDefaults } from './dial-plan.js';
import { checkName } from './validate.js';

/** What add takes; every field but the name and country optional. */
export interface DialPlanInput {
  name: string;
  country: string;
  nationalPrefix?: string | null;
  internationalPrefix?: string | null;
  format?: NumberFormat | null;
  emergency?: string[] | null;
  rules?: DialPlanRule[] | null;
}

const MAX_EMERGENCY = 32;
const MAX_RULES = 64;
const MAX_PATTERN = 200;

function show(v: unknown): string {
  return JSON.stringify(typeof v === 'string' ? v : String(v));
}

/** A country code: 1 to 3 digits, the first not 0 (ITU-T E.164). */
export function checkCountry(value: unknown, field = 'country'): string {
  const v = typeof value === 'string' ? value.replace(/^\+/, '') : value;
  if (typeof v === 'string' && /^[1-9][0-9]{0,2}$/.test(v)) return v;
  throw new ValidationError(field, `expected a country code of 1 to 3 digits like 91 or 44, got ${show(value)}`);
}

/** A national or international prefix: up to 6 digits ('' = none, national only). */
export function checkDialPrefix(value: unknown, field: string, allowEmpty: boolean): string {
  if (typeof value === 'string' && /^[0-9]{0,6}$/.test(value) && (allowEmpty || value !== '')) return value;
  throw new ValidationError(field, `expected up to 6 digits${allowEmpty ? " ('' = none)" : ''}, got ${show(value)}`);
}

export function checkFormat(value: unknown, field = 'format'): NumberFormat {
  if (value === undefined || value === null) return 'e164';
  if ((NUMBER_FORMATS as readonly unknown[]).includes(value)) return value as NumberFormat;
  throw new ValidationError(field, `expected one of ${NUMBER_FORMATS.join(', ')}, got ${show(value)}`);
}

/** Emergency numbers: 2 to 15 digits each, duplicates dropped, at least one. */
export function checkEmergency(value: unknown, field = 'emergency'): string[] {
  if (!Array.isArray(value) || value.length === 0) throw new ValidationError(field, 'expected at least one number');
  if (value.length > MAX_EMERGENCY) throw new ValidationError(field, `at most ${MAX_EMERGENCY} numbers`);
  for (const n of value)
    if (typeof n !== 'string' || !/^[0-9]{2,15}$/.test(n))
      throw new ValidationError(field, `expected numbers of 2 to 15 digits like 112, got ${show(n)}`);
  return [...new Set(value as string[])];
}

/** One rule: a prefix of digits (and `+`), or a regular expression starting with `^` that compiles. */
function checkRule(value: unknown, i: number, field: string): DialPlanRule {
  const at = `${field}[${i}]`;
  if (typeof value !== 'object' || value === null)
    throw new ValidationError(at, 'expected {match, replace, direction}');
  const r = value as Record<string, unknown>;
  const match = r['match'];
  const replace = r['replace'] ?? '';
  const direction = r['direction'] ?? 'in';
  if (typeof match !== 'string' || match === '' || match.length > MAX_PATTERN)
    throw new ValidationError(`${at}.match`, `expected a prefix or a ^regular expression, got ${show(match)}`);
  if (match.startsWith('^')) {
    try {
      new RegExp(match);
    } catch (err) {
      throw new ValidationError(`${at}.match`, `not a regular expression: ${(err as Error).message}`);
    }
  } else if (!/^\+?[0-9]+$/.test(match)) {
    throw new ValidationError(
      `${at}.match`,
      `expected digits (a prefix) or ^ and a regular expression, got ${show(match)}`,
    );
  }
  if (typeof replace !== 'string' || !/^\+?[0-9$]{0,32}$/.test(replace))
    throw new ValidationError(
      `${at}.replace`,
      `expected digits, + first, $1 for a group (up to 32), got ${show(replace)}`,
    );
  if (direction !== 'in' && direction !== 'out')
    throw new ValidationError(`${at}.direction`, `expected in or out, got ${show(direction)}`);
  return { match, replace, direction };
}

export function checkRules(value: unknown, field = 'rules'): DialPlanRule[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ValidationError(field, 'expected a list of rules');
  if (value.length > MAX_RULES) throw new ValidationError(field, `at most ${MAX_RULES} rules`);
  return value.map((r, i) => checkRule(r, i, field));
}

/** The plan of a valid input, its country's defaults where it gives none; ValidationError naming the first bad field. */
export function checkDialPlan(input: DialPlanInput, createdAt: number): DialPlan {
  const name = checkName(input.name, 'name');
  const country = checkCountry(input.country);
  const d = countryDefaults(country);
  const nationalPrefix = checkDialPrefix(input.nationalPrefix ?? d.national, 'nationalPrefix', true);
  const internationalPrefix = checkDialPrefix(
    input.internationalPrefix ?? d.international,
    'internationalPrefix',
    false,
  );
  if (nationalPrefix !== '' && nationalPrefix === internationalPrefix)
    throw new ValidationError('internationalPrefix', 'expected a prefix other than the national one');
  return {
    name,
    country,
    nationalPrefix,
    internationalPrefix,
    format: checkFormat(input.format),
    emergency: checkEmergency(input.emergency ?? d.emergency),
    rules: checkRules(input.rules),
    createdAt,
  };
}

/**
 * A rule as the CLI writes it: `MATCH=>REPLACEMENT`, `out:` before it for
 * a rule of numbers sent (`in:` is the default): `0800=>+91800`,
 * `^([2-9][0-9]{9})$=>+1$1`, `out:+44=>0044`.
 */
export function parseRuleText(text: string, field = 'rule'): DialPlanRule {
  let t = text;
  let direction: 'in' | 'out' = 'in';
  if (t.startsWith('out:') || t.startsWith('in:')) {
    direction = t.startsWith('out:') ? 'out' : 'in';
    t = t.slice(direction.length + 1);
  }
  const arrow = t.indexOf('=>');
  if (arrow < 0) throw new ValidationError(field, `expected [in:|out:]MATCH=>REPLACEMENT, got ${show(text)}`);
  return checkRules([{ match: t.slice(0, arrow), replace: t.slice(arrow + 2), direction }], field)[0]!;
}

/** A rule as parseRuleText reads it. */
export function ruleText(r: DialPlanRule): string {
  return `${r.direction === 'out' ? 'out:' : ''}${r.match}=>${r.replace}`;
}
