import type { SipMessage } from '../sip/message.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import type { Dialog } from '../dialog/dialog.js';
import type { Call, Side } from './call.js';
import type { TransferLegRecord, TransferNote } from './transfer-cdr.js';

/** The party of one side of a call: its trunk or carrier and its number (E.164 when known). */
export interface Party {
  kind: 'trunk' | 'carrier';
  name: string | null;
  number: string;
}

/** What a transfer in progress answers for the call (transfers.ts). */
export interface PendingTransfer {
  /** The side whose leg is to be replaced. */
  readonly side: Side;
  /** A request of the call it takes (the referrer's BYE): true when taken. */
  take(side: Side, req: SipMessage, tx: ServerTransaction): boolean;
  /** The call ended: the transfer is given up. */
  abandon(): void;
}

/**
 * What transfers did and are doing to one call: the party on each side (a
 * transfer puts another there), the transfer in progress, our re-INVITE
 * toward the party that stays (others cross it: 491), the new legs still
 * up (their CDRs), and what the call's CDR is to say.
 */
export class CallTransfers {
  readonly parties: Record<Side, Party>;
  pending: PendingTransfer | null = null;
  /** Our re-INVITE on the call is in progress: an INVITE of a peer crossing it gets 491 (RFC 3261 14.2). */
  inviteBusy = false;
  /** The new legs a transfer placed, by their dialog, until they end. */
  readonly legs = new Map<Dialog, TransferLegRecord>();
  readonly notes: TransferNote[] = [];
  /** Legs replaced by an INVITE with Replaces (RFC 3891). */
  replaced = 0;

  constructor(call: Call) {
    const p = call.plan;
    this.parties =
      p.direction === 'outbound'
        ? {
            a: { kind: 'trunk', name: p.trunk, number: p.from },
            b: { kind: 'carrier', name: call.carrier, number: p.to },
          }
        : {
            a: { kind: 'carrier', name: p.attempts[0]?.carrier ?? null, number: p.from },
            b: { kind: 'trunk', name: p.trunk, number: p.to },
          };
  }

  /** The party of a side (the carrier that answered, for the callee of an outbound call). */
  party(call: Call, side: Side): Party {
    const p = this.parties[side];
    if (p.kind === 'carrier' && p.name === null && side === 'b') p.name = call.carrier;
    return p;
  }
}
