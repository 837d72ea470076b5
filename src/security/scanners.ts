/**
 * Step 3: scanner user agents are dropped without an answer (an answer
 * confirms a SIP server lives here). Case-insensitive substring match, as
 * Kamailio configs do with `$ua =~ "friendly-scanner|sipcli|..."`, but with
 * indexOf over a lowercased header instead of a regular expression.
 */
import type { SipMessage } from '../sip/message.js';

export const DEFAULT_SCANNER_AGENTS = [
  'friendly-scanner',
  'sipcli',
  'sipvicious',
  'sip-scan',
  'sundayddr',
  'iWar',
  'SIVuS',
  'Gulp',
  'sipv',
  'smap',
  'friendly-request',
  'VaxIPUserAgent',
  'VaxSIPUserAgent',
  'siparmyknife',
  'Test Agent',
] as const;

export class ScannerFilter {
  private readonly needles: string[];
  dropped = 0;

  constructor(userAgents: readonly string[]) {
    this.needles = userAgents.map((u) => u.toLowerCase()).filter((u) => u !== '');
  }

  /** The fragment a request's User-Agent matched, or null. */
  match(req: SipMessage): string | null {
    if (this.needles.length === 0) return null;
    const ua = req.get('User-Agent');
    if (ua === undefined) return null;
    return matchAgent(ua, this.needles);
  }
}

/** The first needle (lowercase) found in `ua`, case-insensitively; null if none. */
export function matchAgent(ua: string, needles: readonly string[]): string | null {
  const hay = ua.toLowerCase();
  for (const n of needles) if (hay.includes(n)) return n;
  return null;
}
