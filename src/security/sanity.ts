/**
 * Step 6: sanity checks after Kamailio's sanity module: named checks a
 * config switches one by one, each a 400 (or the status RFC 3261 gives it)
 * with the reason.
 *
 * The parser and validator of the ingress already refuse, always, what no
 * element could process (and these cannot be switched off): the SIP version
 * of the request line (505), required headers To/From/CSeq/Call-ID/Via,
 * the CSeq method equal to the request method, a CSeq number below 2^31
 * (RFC 3261 8.1.1.5), Content-Length against the
 * body, unparseable From/To/Contact/Route URIs, a malformed Expires. What is
 * checked here comes on top:
 * - uriScheme: Request-URI scheme sip, sips or tel (416, RFC 3261 16.3 step 2);
 * - expires: Contact expires parameters are integers (RFC 3261 20.10);
 * - proxyRequire: no option tag we do not support (420 with Unsupported, 16.3 step 5);
 * - digest: Authorization/Proxy-Authorization well formed (RFC 3261 22.4);
 * - duplicateTags: at most one tag in From and in To (RFC 3261 19.3).
 */
import type { SipMessage } from '../sip/message.js';
import { parseUri, type Uri } from '../sip/uri.js';
import { SipSyntaxError } from '../sip/errors.js';
import { authScheme, parseAuthHeader } from '../auth/credentials.js';
import type { NameAddr } from '../sip/name-addr.js';

export const SANITY_CHECKS = ['uriScheme', 'expires', 'proxyRequire', 'digest', 'duplicateTags'] as const;
export type SanityCheckName = (typeof SANITY_CHECKS)[number];
export type SanityChecks = Record<SanityCheckName, boolean>;

export interface SanityFailure {
  /** The check, or `syntax` for a header the check had to parse and could not. */
  check: SanityCheckName | 'syntax';
  status: number;
  reason: string;
  headers?: Array<[string, string]>;
}

/** Option tags Trunkline supports in Proxy-Require (none yet). */
const SUPPORTED_PROXY_TAGS: ReadonlySet<string> = new Set();

/** Runs the enabled checks in order; the first failure, or null. */
export function checkSanity(
  req: SipMessage,
  checks: SanityChecks,
  ruri: Uri = parseUri(req.requestUri),
): SanityFailure | null {
  try {
    if (checks.uriScheme) {
      const scheme = ruri.scheme;
      if (scheme !== 'sip' && scheme !== 'sips' && scheme !== 'tel') {
        return { check: 'uriScheme', status: 416, reason: 'Unsupported URI Scheme' };
      }
    }
    if (checks.expires && req.method === 'REGISTER' && !req.contactIsStar) {
      for (const c of req.contacts) {
        const e = c.params.get('expires');
        if (e !== undefined && (e === null || !isDigits(e)))
          return { check: 'expires', status: 400, reason: 'Bad Contact expires' };
      }
    }
    if (checks.proxyRequire && req.has('Proxy-Require')) {
      const unsupported = req.optionTags('Proxy-Require').filter((t) => !SUPPORTED_PROXY_TAGS.has(t.toLowerCase()));
      if (unsupported.length > 0) {
        return {
          check: 'proxyRequire',
          status: 420,
          reason: 'Bad Extension',
          headers: [['Unsupported', unsupported.join(', ')]],
        };
      }
    }
    if (checks.digest) {
      for (const name of ['Authorization', 'Proxy-Authorization'] as const) {
        for (const v of req.getAll(name)) {
          if (authScheme(v)?.toLowerCase() !== 'digest') continue;
          try {
            parseAuthHeader(v, name);
          } catch (err) {
            if (err instanceof SipSyntaxError) return { check: 'digest', status: 400, reason: `Bad ${name}` };
            throw err;
          }
        }
      }
    }
    if (checks.duplicateTags) {
      if (tagCount(req.from) > 1) return { check: 'duplicateTags', status: 400, reason: 'Duplicate From tag' };
      if (tagCount(req.to) > 1) return { check: 'duplicateTags', status: 400, reason: 'Duplicate To tag' };
    }
    return null;
  } catch (err) {
    if (err instanceof SipSyntaxError) return { check: 'syntax', status: 400, reason: err.reasonPhrase };
    throw err;
  }
}

function tagCount(n: NameAddr): number {
  let count = 0;
  for (const [name] of n.params) if (name.toLowerCase() === 'tag') count++;
  return count;
}

/** 1 to 10 decimal digits. */
function isDigits(s: string): boolean {
  if (s.length === 0 || s.length > 10) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}
