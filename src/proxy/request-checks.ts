import type { SipMessage } from '../sip/message.js';
import type { Uri } from '../sip/uri.js';
import { loopHash, loopHashOf } from './branch.js';

/** A refusal of 16.3: status, reason, and headers the answer must carry. */
export interface Refusal {
  status: number;
  reason?: string;
  headers?: Array<[string, string]>;
}

/** Option tags Trunkline supports as a proxy (none yet); any other in Proxy-Require gets 420. */
const SUPPORTED_PROXY_TAGS: ReadonlySet<string> = new Set();

/**
 * Request validation of RFC 3261 16.3, after the syntax checks of the
 * ingress: URI scheme (416), Max-Forwards (483), loop (482), Proxy-Require
 * (420 with Unsupported). Returns the refusal, or null to go on.
 */
export function checkProxyRequest(
  req: SipMessage,
  uri: Uri,
  isOurs: (host: string, port: number | null) => boolean,
): Refusal | null {
  // 16.3 step 2: a scheme we cannot route.
  if (uri.scheme !== 'sip' && uri.scheme !== 'sips' && uri.scheme !== 'tel') return { status: 416 };
  // 16.3 step 3.
  if (req.maxForwards === 0) return { status: 483 };
  // 16.3 step 4: one of our Vias with the hash this request has now means it came back unchanged.
  const vias = req.vias;
  if (vias.length > 0) {
    let hash: string | null = null;
    for (let i = 0; i < vias.length; i++) {
      const v = vias[i]!;
      if (!isOurs(v.host, v.port)) continue;
      const theirs = loopHashOf(v.branch ?? '');
      if (theirs === null) continue;
      hash ??= loopHash(req);
      if (theirs === hash) return { status: 482 };
    }
  }
  // 16.3 step 5.
  if (req.has('Proxy-Require')) {
    const unsupported = req.optionTags('Proxy-Require').filter((t) => !SUPPORTED_PROXY_TAGS.has(t.toLowerCase()));
    if (unsupported.length > 0) return { status: 420, headers: [['Unsupported', unsupported.join(', ')]] };
  }
  return null;
}
