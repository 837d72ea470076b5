/**
 * A live call as a cluster keeps it in Redis (`tl:call:SID`, written by
 * shared-calls.ts): what `trunkline calls` shows, and what another node
 * would need to take the call over: both dialogs (RFC 3261 12.1: Call-ID,
 * tags, URIs, CSeqs, remote target, route set, where requests go) and the
 * relay's address on each side. Absent values are empty strings.
 */
import type { Dialog } from '../dialog/dialog.js';
import type { Side } from '../media/engine.js';
import type { LiveCall } from './b2bua.js';
import type { Call } from './call.js';

/** The fields a listing reads, in this order (shared-calls.ts reads them with HMGET). */
export const LISTED_FIELDS = [
  'callSid',
  'node',
  'incarnation',
  'direction',
  'account',
  'trunk',
  'carrier',
  'from',
  'to',
  'state',
  'startAt',
  'answerAt',
] as const;

/** One dialog of a call as JSON (a takeover's needs). */
export interface DialogState {
  callId: string;
  localTag: string;
  remoteTag: string | null;
  localUri: string;
  remoteUri: string;
  localSeq: number;
  remoteSeq: number | null;
  remoteTarget: string;
  routeSet: string[];
  /** Our interface toward the peer, `proto:host:port`. */
  iface: string;
  /** Where requests to the peer go, `proto:host:port`. */
  target: string;
  /** The stream connection reused, `proto:local->remote`, or null (UDP). */
  flow: string | null;
}

function dialogState(d: Dialog): DialogState {
  const f = d.flow;
  return {
    callId: d.callId,
    localTag: d.localTag,
    remoteTag: d.remoteTag,
    localUri: d.localUri,
    remoteUri: d.remoteUri,
    localSeq: d.localSeq,
    remoteSeq: d.remoteSeq,
    remoteTarget: d.remoteTarget,
    routeSet: d.routeSet,
    iface: `${d.iface.proto}:${d.iface.host}:${d.iface.port}`,
    target: `${d.target.proto}:${d.target.host}:${d.target.port}`,
    flow: f === null ? null : `${f.proto}:${f.localHost}:${f.localPort}->${f.remoteHost}:${f.remotePort}`,
  };
}

/** The HASH fields of a live call. */
export function callRecord(
  call: Call,
  node: string,
  incarnation: string,
  relay: Partial<Record<Side, string>>,
): Record<string, string> {
  return {
    callSid: call.callSid,
    node,
    incarnation,
    direction: call.plan.direction,
    account: call.plan.account ?? '',
    trunk: call.plan.trunk ?? '',
    carrier: call.carrier ?? '',
    from: call.plan.from,
    to: call.plan.to,
    state: call.state,
    startAt: String(call.startAt),
    answerAt: call.answerAt === null ? '' : String(call.answerAt),
    aCallId: call.a.callId,
    bCallId: call.b?.callId ?? '',
    a: JSON.stringify(dialogState(call.a)),
    b: call.b === null ? '' : JSON.stringify(dialogState(call.b)),
    media: JSON.stringify(relay),
  };
}

const orNull = (v: string | null | undefined): string | null => (v === undefined || v === null || v === '' ? null : v);

/** A listed call from the LISTED_FIELDS values of a record (null: a field Redis did not have); null when it is none. */
export function listedCall(values: ReadonlyArray<string | null>): { call: LiveCall; incarnation: string } | null {
  const v = (f: (typeof LISTED_FIELDS)[number]): string | null => orNull(values[LISTED_FIELDS.indexOf(f)]);
  const callSid = v('callSid');
  const node = v('node');
  const startAt = Number(v('startAt'));
  if (callSid === null || node === null || !Number.isFinite(startAt)) return null;
  const answerAt = v('answerAt');
  return {
    incarnation: v('incarnation') ?? '',
    call: {
      callSid,
      node,
      direction: v('direction') ?? '',
      account: v('account'),
      trunk: v('trunk'),
      carrier: v('carrier'),
      from: v('from') ?? '',
      to: v('to') ?? '',
      state: v('state') ?? '',
      startAt,
      answerAt: answerAt === null ? null : Number(answerAt),
    },
  };
}
