/**
 * The headers of call transfer, the rules alone (no I/O): Refer-To (RFC
 * 3515 2.1, 2.4.2), Refer-Sub (RFC 4488 4), Replaces (RFC 3891 6.1), and
 * the NOTIFYs of a REFER's implicit subscription with their
 * message/sipfrag body (RFC 3515 2.4.4 - 2.4.7). transfers.ts and
 * replaces.ts drive them.
 */
import type { SipMessage } from '../sip/message.js';
import { SipSyntaxError } from '../sip/errors.js';
import { parseNameAddr } from '../sip/name-addr.js';
import { parseParams } from '../sip/params.js';
import { isSipUri, isTelUri, unescapeUriPart } from '../sip/uri.js';

/** A transfer header that does not read: answered with `status` (400), naming the header. */
export class TransferHeaderError extends Error {
  constructor(
    readonly header: string,
    message: string,
    readonly status = 400,
  ) {
    super(`${header}: ${message}`);
    this.name = 'TransferHeaderError';
  }

  get reasonPhrase(): string {
    return `Bad ${this.header}`;
  }
}

/** What a REFER asks for: the user part (a number, for us) of its Refer-To. */
export interface ReferTarget {
  /** The Refer-To URI's user (a sip/sips URI) or number (a tel URI), unescaped; null when it has none. */
  user: string | null;
  /** The method the URI asks for (RFC 3515 2.1: a `method` parameter; INVITE when none). */
  method: string;
  /** Headers embedded in the URI (`?Replaces=...`, RFC 3891 attended transfer), raw; null when none. */
  headers: string | null;
}

/**
 * The one Refer-To of a REFER (RFC 3515 2.4.2: none or more than one is a
 * 400), as a SIP, SIPS or tel URI (another scheme: 501, nothing we can call).
 */
export function referTargetOf(refer: SipMessage): ReferTarget {
  const values = refer.getAll('Refer-To');
  if (values.length !== 1) throw new TransferHeaderError('Refer-To', `expected one value, got ${values.length}`);
  let uri;
  try {
    uri = parseNameAddr(values[0]!, 'Refer-To').uri;
  } catch (err) {
    if (!(err instanceof SipSyntaxError)) throw err;
    throw new TransferHeaderError('Refer-To', err.message);
  }
  if (isTelUri(uri)) return { user: uri.number, method: 'INVITE', headers: null };
  if (!isSipUri(uri)) throw new TransferHeaderError('Refer-To', `unsupported URI scheme ${uri.scheme}`, 501);
  const method = uri.params.get('method');
  let user: string | null = null;
  try {
    user = uri.user === null ? null : unescapeUriPart(uri.user);
  } catch (err) {
    if (!(err instanceof SipSyntaxError)) throw err;
    throw new TransferHeaderError('Refer-To', err.message);
  }
  return {
    user,
    method: typeof method === 'string' ? method.toUpperCase() : 'INVITE',
    headers: uri.headers,
  };
}

/**
 * Whether the REFER asks for no implicit subscription (RFC 4488 4:
 * `Refer-Sub: false`); anything else keeps it (and our 2xx then says
 * nothing of it).
 */
export function wantsNoSubscription(refer: SipMessage): boolean {
  const v = refer.get('Refer-Sub');
  return v !== undefined && /^\s*false\s*(;|$)/i.test(v);
}

/** The headers and body of a NOTIFY of a REFER's subscription: the referenced request's status as a sipfrag. */
export function referNotify(
  referSeq: number,
  status: number,
  reason: string,
  final: boolean,
): { headers: Array<[string, string]>; body: Buffer } {
  return {
    headers: [
      // RFC 3515 2.4.6: the id names the REFER (its CSeq); allowed for the first REFER of a dialog, needed after.
      ['Event', `refer;id=${referSeq}`],
      // RFC 3515 2.4.7: the last NOTIFY ends the subscription.
      ['Subscription-State', final ? 'terminated;reason=noresource' : `active;expires=${REFER_EXPIRES_S}`],
      ['Content-Type', 'message/sipfrag;version=2.0'],
    ],
    body: Buffer.from(`SIP/2.0 ${status} ${reason.replace(/[\r\n]+/g, ' ')}\r\n`, 'utf8'),
  };
}

/** The lifetime our NOTIFYs give the refer subscription while the transfer runs (RFC 3515 2.4.4). */
export const REFER_EXPIRES_S = 60;

/** A Replaces header (RFC 3891 6.1): the dialog it names, tags as the receiving UA sees them. */
export interface Replaces {
  callId: string;
  /** Our tag in the dialog (RFC 3891 3: compared to the local tag). */
  toTag: string;
  /** The peer's tag (compared to the remote tag). */
  fromTag: string;
  earlyOnly: boolean;
}

/**
 * The Replaces of an INVITE, null when it has none; a second one, or one
 * without both tags, is a 400 (RFC 3891 3, 6.1).
 */
export function replacesOf(req: SipMessage): Replaces | null {
  if (!req.has('Replaces')) return null;
  const values = req.getAll('Replaces');
  if (values.length !== 1) throw new TransferHeaderError('Replaces', 'more than one');
  return parseReplaces(values[0]!);
}

/**
 * The Replaces among the headers of a Refer-To URI (`?Replaces=...`, RFC
 * 3891 6.1 and RFC 3261 19.1.1: `hname=hvalue` pairs joined by `&`, the
 * value escaped); null when there is none. In a REFER it names the dialog
 * the transferee's INVITE is to replace, as its recipient (the target)
 * sees it: our tag as to-tag when that dialog is one of ours.
 */
export function replacesInUriHeaders(headers: string): Replaces | null {
  let found: Replaces | null = null;
  for (const pair of headers.split('&')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).toLowerCase() !== 'replaces') continue;
    if (found !== null) throw new TransferHeaderError('Refer-To', 'more than one Replaces');
    let value: string;
    try {
      value = unescapeUriPart(pair.slice(eq + 1));
    } catch (err) {
      if (!(err instanceof SipSyntaxError)) throw err;
      throw new TransferHeaderError('Refer-To', err.message);
    }
    found = parseReplaces(value);
  }
  return found;
}

function parseReplaces(v: string): Replaces {
  const semi = v.indexOf(';');
  const callId = (semi < 0 ? v : v.slice(0, semi)).trim();
  if (callId === '' || /\s/.test(callId)) throw new TransferHeaderError('Replaces', 'no Call-ID');
  let params;
  try {
    params = parseParams(semi < 0 ? '' : v.slice(semi), 'Replaces');
  } catch (err) {
    if (!(err instanceof SipSyntaxError)) throw err;
    throw new TransferHeaderError('Replaces', err.message);
  }
  const toTag = params.get('to-tag');
  const fromTag = params.get('from-tag');
  if (typeof toTag !== 'string' || typeof fromTag !== 'string' || toTag === '' || fromTag === '')
    throw new TransferHeaderError('Replaces', 'to-tag and from-tag are required');
  return { callId, toTag, fromTag, earlyOnly: params.has('early-only') };
}
