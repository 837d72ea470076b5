import type { SipUri } from '../sip/uri.js';
import type { CallDirection } from '../trunking/model.js';
import type { UacCredentials } from './uac-auth.js';
import type { LegHeaderRule } from './headers.js';
import type { LegMediaOptions, Side } from '../media/engine.js';

/** One attempt of the callee leg: a gateway, or the customer's destination. */
export interface LegAttempt {
  /** Request-URI of the outgoing INVITE. */
  requestUri: string;
  /** Where it is sent (RFC 3263 resolves it). */
  hop: SipUri;
  /** Route values to preload (a registered contact's Path, RFC 3327). */
  routes: string[];
  /** From and To of the outgoing INVITE (name-addr, no tag). The host is ours / the peer's: nothing of the other side. */
  from: string;
  to: string;
  /** Headers added on this leg (P-Asserted-Identity, X-Call-Sid, X-Leg-Sid, X-Trunk-Sid...). */
  headers: Array<[string, string]>;
  credentials: UacCredentials | null;
  carrier: string | null;
  /** The gateway URI as configured (for the monitor and the CDR). */
  gateway: string | null;
  /** The header rule of the trunk or carrier this leg goes to, or null. */
  rule: LegHeaderRule | null;
  /** Media profile and codecs of the trunk or carrier this leg goes to. */
  media: LegMediaOptions;
}

/** What classification decided for a call: who it belongs to and the attempts, in failover order. */
export interface CallPlan {
  callSid: string;
  direction: CallDirection;
  account: string | null;
  trunk: string | null;
  /** E.164 caller and callee (an emergency call's callee as dialled; a caller that is no number as received). */
  from: string;
  to: string;
  /** The caller and callee users as received, before the dial plan (null when the request had none). */
  received: { from: string | null; to: string | null };
  /** A call to an emergency number (src/trunking/dial-plan.ts): no caller ID check, limit or barring. */
  emergency: boolean;
  attempts: LegAttempt[];
  /** Frees the call's place in its limits (idempotent). */
  release: () => void;
  /** Adds an X-Leg-Sid per attempt toward the customer (inbound). */
  legSidHeader: boolean;
  /** Media profile and codecs of the caller's side (its trunk or carrier). */
  mediaA: LegMediaOptions;
}

/** The attempt toward a carrier gateway that answered, and its post-dial delay (ms, RFC 6076's session request delay). */
export interface AnsweredAttempt {
  carrier: string;
  gateway: string;
  pddMs: number | null;
}

/** The media options of a call's side: the caller's (its trunk's or carrier's, planned) or the callee's (the answering attempt's). */
export function mediaOptionsOf(call: { plan: CallPlan; mediaB: LegMediaOptions }, side: Side): LegMediaOptions {
  return side === 'a' ? call.plan.mediaA : call.mediaB;
}
