/** The built-in engine's state of one call (builtin.ts). */
import { type CallMediaStats, emptyStats, type MediaAddress, type Side } from './engine.js';
import type { PendingOffer } from './offer-answer.js';
import type { RelayLeg } from './relay.js';
import type { SdesKey } from './sdp/crypto-attr.js';
import { newOrigin, type Origin } from './sdp/rewrite.js';

export interface Stream {
  index: number;
  legs: Record<Side, RelayLeg> | null;
  /** Our key toward each side (what we encrypt with) and the peer's key (what it encrypts with). */
  outKey: Record<Side, SdesKey | null>;
  inKey: Record<Side, SdesKey | null>;
  held: boolean;
}

export interface Session {
  sid: string;
  stats: CallMediaStats;
  streams: (Stream | undefined)[];
  origins: Record<Side, Origin>;
  pending: PendingOffer | null;
  /** The offer last answered: a second answer to it (183 then 200, each with SDP) is applied again. */
  answered: PendingOffer | null;
  established: boolean;
  lastCount: Record<Side, number>;
  lastSeen: Record<Side, number>;
  timedOut: boolean;
  queue: Promise<unknown>;
  /** Our address on each side (LegMediaOptions.sides, the latest given); a side without one: the engine's. */
  sides: Partial<Record<Side, MediaAddress>>;
}

export function newSession(sid: string): Session {
  return {
    sid,
    stats: emptyStats(),
    streams: [],
    origins: { a: newOrigin(), b: newOrigin() },
    pending: null,
    answered: null,
    established: false,
    lastCount: { a: 0, b: 0 },
    lastSeen: { a: Date.now(), b: Date.now() },
    timedOut: false,
    queue: Promise.resolve(),
    sides: {},
  };
}
