import type { SipMessage } from '../sip/message.js';
import type { Dialog } from '../dialog/dialog.js';
import type { Call, Side } from './call.js';

/** The outcome of a re-INVITE of ours on a leg: its 2xx (to be ACKed), or the final status of a refusal. */
export type ReinviteOutcome =
  { ok: true; res: SipMessage; ack(body?: Buffer): void } | { ok: false; status: number; reason: string };

/** 491 to our re-INVITE: tried again this many times at most (RFC 3261 14.1). */
const GLARE_TRIES = 3;
/** A re-INVITE relayed by the call still in progress: ours waits for it, this long at most. */
const BUSY_WAIT_MS = 8000;
const BUSY_POLL_MS = 100;

/**
 * A re-INVITE of ours on one leg of a call (a transfer's or a replacement's
 * new session toward the party that stays): `body` the offer, none for an
 * offer the peer is to make in its 2xx (the ACK then carries the answer,
 * `ack(body)`). Its session timer headers are the leg's (RFC 4028 7.4), a
 * 2xx refreshes the leg's session and its target (RFC 3261 12.2.1.2). It
 * waits for a re-INVITE the call relays to end first, and goes again after
 * a 491 (RFC 3261 14.1: 2.1-4 s on the leg whose Call-ID we chose, the
 * callee's, else up to 2 s).
 */
export async function reinvite(call: Call, side: Side, body: Buffer | undefined): Promise<ReinviteOutcome> {
  for (let tries = 1; ; tries++) {
    for (let waited = 0; call.relay.inviteInProgress && waited < BUSY_WAIT_MS; waited += BUSY_POLL_MS)
      await sleep(BUSY_POLL_MS);
    const d = side === 'a' ? call.a : call.b;
    if (d === null || call.isEnded()) return { ok: false, status: 481, reason: 'Call Leg Does Not Exist' };
    const out = await once(call, side, d, body);
    if (out.ok || out.status !== 491 || tries >= GLARE_TRIES) return out;
    await sleep(side === 'b' ? 2100 + Math.floor(Math.random() * 1900) : Math.floor(Math.random() * 2000));
  }
}

function once(call: Call, side: Side, d: Dialog, body: Buffer | undefined): Promise<ReinviteOutcome> {
  const env = call.env;
  const headers: Array<[string, string]> = call.timers?.toward(side, 'INVITE', []) ?? [];
  if (body !== undefined) headers.push(['Content-Type', 'application/sdp']);
  if (env.agentName !== null) headers.push(['User-Agent', env.agentName]);
  const req = d.request('INVITE', { headers, ...(body !== undefined && { body }) });
  call.noteChange();
  env.counters.inc('b2bua_transfer_reinvites');
  return new Promise((resolve) => {
    let ack: SipMessage | null = null;
    env.layer.sendRequest(
      req,
      d.target,
      {
        onFinal: (res) => {
          if (res.status < 200 || res.status >= 300) {
            resolve({ ok: false, status: res.status, reason: res.reason });
            return;
          }
          d.refreshTarget(res);
          call.timers?.relayedAnswered(side, 'INVITE', res);
          resolve({
            ok: true,
            res,
            ack: (ackBody) => {
              ack = d.request(
                'ACK',
                ackBody === undefined
                  ? { seq: req.cseq.seq }
                  : { headers: [['Content-Type', 'application/sdp']], body: ackBody, seq: req.cseq.seq },
              );
              call.sendStateless(ack, d);
            },
          });
        },
        // RFC 3261 13.2.2.4: each retransmission of the 2xx gets the ACK again.
        onRetransmitted2xx: () => {
          if (ack !== null) call.sendStateless(ack, d);
        },
        onTimeout: () => resolve({ ok: false, status: 408, reason: 'Request Timeout' }),
        onTransportError: () => resolve({ ok: false, status: 503, reason: 'Service Unavailable' }),
      },
      d.flow ?? undefined,
    );
  });
}

/** Runs `step` in the call's chain of media steps (Call.serial) and resolves when it is done. */
export function inSerial(call: Call, step: () => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    call.serial(async () => {
      try {
        await step();
        resolve();
      } catch (err) {
        reject(err);
      }
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
