/**
 * Small helpers of the built-in engine: SRTP contexts per leg from SDES
 * keys, where a leg's sockets are bound, figures snapshots.
 */
import { normalizeHost } from '../transport/addr.js';
import type { CallMediaStats, Side } from './engine.js';
import type { RelayLeg } from './relay.js';
import type { SdesKey } from './sdp/crypto-attr.js';
import { SrtpContext } from './srtp/context.js';

/** A stream's SDES keys: ours toward each side (what we encrypt with) and the peer's (what it encrypts with). */
export interface StreamKeys {
  outKey: Record<'a' | 'b', SdesKey | null>;
  inKey: Record<'a' | 'b', SdesKey | null>;
}

/** Installs SRTP contexts on a leg: `peerKey` decrypts what its peer sends, `ourKey` encrypts toward it. Unchanged keys keep their context (ROC, replay window). */
export function setContexts(
  st: StreamKeys,
  leg: RelayLeg,
  side: Side,
  peerKey: SdesKey | null,
  ourKey: SdesKey | null,
): void {
  if (peerKey === null) leg.srtpIn = null;
  else if (leg.srtpIn === null || !sameKey(st.inKey[side], peerKey))
    leg.srtpIn = new SrtpContext(peerKey.suite, peerKey.key, peerKey.salt);
  st.inKey[side] = peerKey;
  if (ourKey === null) leg.srtpOut = null;
  else if (leg.srtpOut === null || !sameKey(st.outKey[side], ourKey))
    leg.srtpOut = new SrtpContext(ourKey.suite, ourKey.key, ourKey.salt);
  st.outKey[side] = ourKey;
}

/** The address a leg's sockets are bound to. */
export function boundAddress(leg: RelayLeg): string {
  return leg.rtpSock.address().address;
}

export function sameHost(a: string, b: string): boolean {
  return a === b || normalizeHost(a) === normalizeHost(b);
}

export function sameKey(a: SdesKey | null, b: SdesKey): boolean {
  return a !== null && a.suite === b.suite && a.key.equals(b.key) && a.salt.equals(b.salt);
}

export function snapshot(s: CallMediaStats): CallMediaStats {
  return { aToB: { ...s.aToB }, bToA: { ...s.bToA }, startedAt: s.startedAt };
}
