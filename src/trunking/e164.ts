/**
 * Dialled numbers to E.164, and E.164 to what a carrier wants.
 *
 * normalizeNumber() takes what a customer's PBX puts in a Request-URI or a
 * From: a bare user part, or a whole `sip:`/`sips:` URI (its user part, with
 * `;user=phone` parameters and %-escapes handled) or `tel:` URI (RFC 3966),
 * and returns `+` and 1 to 15 digits, the first not 0 (ITU-T E.164):
 *
 *   +91 22 4000-1234, +91(22)40001234    -> +912240001234   visual separators
 *                                                            (space - . ( ), RFC 3966 5.1.1) dropped
 *   00912240001234                       -> +912240001234   `00` international prefix
 *   14155550100                          -> +14155550100    digits without a `+`: taken as E.164
 *                                                            without its plus (what most carriers send)
 *   02240001234 with defaultCountryCode 91 -> +912240001234 one leading `0` (national trunk prefix)
 *                                                            replaced by the country code
 *   02240001234 without one              -> refused          a national number needs a country
 *
 * Everything else is refused with a NumberError saying why: letters, `*`,
 * `#`, an empty or over-long number, a `tel:` local number with a
 * phone-context (its context is not a country code we can trust).
 */
import { unescapeUriPart } from '../sip/uri.js';
import { parsedOrNull } from '../sip/errors.js';

export class NumberError extends Error {
  override readonly name = 'NumberError';
}

export interface NormalizeOptions {
  /** Country code (digits, no `+`, e.g. `91`) for national numbers that start with one `0`. */
  defaultCountryCode?: string;
}

/** Visual separators of RFC 3966 5.1.1 (and the space people type). */
function isSeparator(c: string): boolean {
  return c === '-' || c === '.' || c === '(' || c === ')' || c === ' ';
}

/** The number part of a `sip:`/`sips:`/`tel:` URI, or the input itself. */
function numberPart(input: string): string {
  const lower = input.slice(0, 5).toLowerCase();
  let rest: string;
  if (lower.startsWith('sips:')) rest = input.slice(5);
  else if (lower.startsWith('sip:')) rest = input.slice(4);
  else if (lower.startsWith('tel:')) {
    const tel = input.slice(4);
    const semi = tel.indexOf(';');
    const num = semi < 0 ? tel : tel.slice(0, semi);
    if (!num.startsWith('+') && semi >= 0 && /;phone-context=/i.test(tel)) {
      throw new NumberError(`a local tel: number with a phone-context is not taken: ${JSON.stringify(input)}`);
    }
    return num;
  } else return input;
  const at = rest.indexOf('@');
  if (at < 0) throw new NumberError(`the URI has no user part: ${JSON.stringify(input)}`);
  let user = rest.slice(0, at);
  // A user part may carry password (`user:pw`) or tel parameters (`+1555;isub=1`); the number is before them.
  const colon = user.indexOf(':');
  if (colon >= 0) user = user.slice(0, colon);
  const unescaped = parsedOrNull(() => unescapeUriPart(user));
  if (unescaped === null) throw new NumberError(`bad %-escape in ${JSON.stringify(input)}`);
  user = unescaped;
  const semi = user.indexOf(';');
  return semi < 0 ? user : user.slice(0, semi);
}

/** E.164 with `+`, or NumberError saying why not. */
export function normalizeNumber(input: string, opts: NormalizeOptions = {}): string {
  if (typeof input !== 'string' || input.length === 0 || input.length > 256) {
    throw new NumberError('expected a number');
  }
  const raw = numberPart(input.trim());
  let plus = false;
  let digits = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c >= '0' && c <= '9') digits += c;
    else if (c === '+' && i === 0) plus = true;
    else if (isSeparator(c)) continue;
    else throw new NumberError(`not a phone number: ${JSON.stringify(input)} (${JSON.stringify(c)})`);
  }
  if (digits === '') throw new NumberError(`no digits in ${JSON.stringify(input)}`);
  if (!plus) {
    if (digits.startsWith('00')) digits = digits.slice(2);
    else if (digits.startsWith('0')) {
      const cc = opts.defaultCountryCode;
      if (cc === undefined || cc === '') {
        throw new NumberError(`a national number (leading 0) needs a country code: ${JSON.stringify(input)}`);
      }
      digits = cc + digits.slice(1);
    }
  }
  if (digits.length > 15) throw new NumberError(`longer than 15 digits: ${JSON.stringify(input)}`);
  if (digits === '' || digits.startsWith('0')) throw new NumberError(`no country code in ${JSON.stringify(input)}`);
  return `+${digits}`;
}

/** normalizeNumber, or null instead of the error. */
export function tryNormalizeNumber(input: string, opts: NormalizeOptions = {}): string | null {
  try {
    return normalizeNumber(input, opts);
  } catch (err) {
    if (err instanceof NumberError) return null;
    throw err;
  }
}

/**
 * The number as a carrier wants it in its Request-URI and To: its tech
 * prefix first (`--prefix`), then the E.164 number with its `+`, or without
 * it for a `--no-plus` carrier.
 */
export function formatForCarrier(e164: string, carrier: { prefix: string | null; plus: boolean }): string {
  const number = carrier.plus ? e164 : e164.startsWith('+') ? e164.slice(1) : e164;
  return `${carrier.prefix ?? ''}${number}`;
}
