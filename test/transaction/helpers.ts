/**
 * Test kit for the transaction layer: an in-memory TransactionTransport that
 * records what is sent (parsed back for assertions), a recording TU, message
 * builders producing real parsed messages, and small timing helpers.
 */
import assert from 'node:assert/strict';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { serialize } from '../../src/sip/serializer.js';
import { createResponse, type ResponseOptions } from '../../src/sip/response.js';
import type { SipMessage } from '../../src/sip/message.js';
import type { Flow, TransportProto } from '../../src/transport/types.js';
import type { Target, TimerConfig, TransactionTransport } from '../../src/transaction/types.js';
import { TimerWheel } from '../../src/transaction/timer-wheel.js';
import { sleep } from '../helpers/wait.js';
import {
  TransactionLayer,
  type ClientHandlers,
  type ClientTransaction,
  type ServerTransaction,
  type TransactionUser,
} from '../../src/transaction/transaction-layer.js';
import { parse } from '../helpers/sip-messages.js';

let flowSeq = 0;

export function flow(proto: TransportProto = 'udp', remoteHost = '203.0.113.10', remotePort = 5060): Flow {
  return {
    proto,
    localHost: '192.0.2.1',
    localPort: proto === 'tls' ? 5061 : 5060,
    remoteHost,
    remotePort,
    connectionId: proto === 'udp' ? null : ++flowSeq,
  };
}

export interface Sent {
  at: number;
  flow: Flow | null;
  target: Target | null;
  data: Buffer;
  msg: SipMessage;
}

/** Records every send; can be told to fail. */
export class MemTransport implements TransactionTransport {
  readonly sent: Sent[] = [];
  /** send() returns false while set. */
  failSend = false;
  /** sendTo() rejects with this while set. */
  failSendTo: Error | null = null;
  /** sendTo() resolves after this many ms (0: next microtask). */
  connectDelayMs = 0;

  send(f: Flow, data: Buffer): boolean {
    if (this.failSend) return false;
    this.sent.push({ at: performance.now(), flow: f, target: null, data, msg: parse(data) });
    return true;
  }

  async sendTo(target: Target, data: Buffer): Promise<Flow> {
    if (this.connectDelayMs > 0) await sleep(this.connectDelayMs);
    if (this.failSendTo !== null) throw this.failSendTo;
    const f = flow(target.proto, target.host, target.port);
    this.sent.push({ at: performance.now(), flow: f, target, data, msg: parse(data) });
    return f;
  }

  /** Sent messages that are requests with this method / responses with this status. */
  requests(method: string): Sent[] {
    return this.sent.filter((s) => s.msg.isRequest && s.msg.method === method);
  }

  responses(status?: number): Sent[] {
    return this.sent.filter((s) => !s.msg.isRequest && (status === undefined || s.msg.status === status));
  }

  clear(): void {
    this.sent.length = 0;
  }
}

export class RecordingTu implements TransactionUser {
  readonly requests: Array<{ req: SipMessage; tx: ServerTransaction | null; flow: Flow }> = [];
  readonly strays: Array<{ res: SipMessage; flow: Flow }> = [];
  /** Called for each new request (to answer at once, throw, ...). */
  onReq: ((req: SipMessage, tx: ServerTransaction | null) => void) | null = null;

  onRequest(req: SipMessage, tx: ServerTransaction | null, f: Flow): void {
    this.requests.push({ req, tx, flow: f });
    if (this.onReq !== null) this.onReq(req, tx);
  }

  onStrayResponse(res: SipMessage, f: Flow): void {
    this.strays.push({ res, flow: f });
  }
}

export class RecordingLog {
  readonly warns: Array<{ obj: object; msg: string }> = [];
  warn(obj: object, msg: string): void {
    this.warns.push({ obj, msg });
  }
  debug(): void {}
}

/** Small timers: T1 10 ms, T2 40, T4 50, D 100 (64*T1 = 640 ms). */
export const FAST: TimerConfig = { t1: 10, t2: 40, t4: 50, d: 100 };

export interface Kit {
  layer: TransactionLayer;
  transport: MemTransport;
  tu: RecordingTu;
  log: RecordingLog;
  wheel: TimerWheel;
  close(): void;
}

/** A layer on a 2 ms wheel with FAST timers (overridable). */
export function kit(timers: Partial<TimerConfig> = {}): Kit {
  const transport = new MemTransport();
  const tu = new RecordingTu();
  const log = new RecordingLog();
  const wheel = new TimerWheel(2);
  const layer = new TransactionLayer({ transport, timers: { ...FAST, ...timers }, log, wheel });
  layer.setUser(tu);
  return {
    layer,
    transport,
    tu,
    log,
    wheel,
    close() {
      layer.stop();
      wheel.stop();
    },
  };
}

let seq = 0;
export function uniq(): string {
  return `${process.pid}x${++seq}`;
}

export interface ReqOpts {
  method?: string;
  /** null: no branch parameter (RFC 2543). */
  branch?: string | null;
  transport?: string;
  sentBy?: string;
  ruri?: string;
  callId?: string;
  cseq?: number;
  fromTag?: string;
  toTag?: string;
  routes?: string[];
  /** A second Via under the top one (the request came through a proxy). */
  lowerVia?: string;
  extra?: string[];
}

/** A request as received (or as the proxy forwards it), parsed from text. */
export function request(o: ReqOpts = {}): SipMessage {
  const method = o.method ?? 'INVITE';
  const branch = o.branch === undefined ? `z9hG4bK-${uniq()}` : o.branch;
  const via = `SIP/2.0/${o.transport ?? 'UDP'} ${o.sentBy ?? '203.0.113.10:5060'}${branch === null ? '' : `;branch=${branch}`}`;
  const lines = [
    `${method} ${o.ruri ?? 'sip:+15551230000@trunk.example.com'} SIP/2.0`,
    `Via: ${via}`,
    ...(o.lowerVia !== undefined ? [`Via: ${o.lowerVia}`] : []),
    ...(o.routes ?? []).map((r) => `Route: ${r}`),
    'Max-Forwards: 69',
    `From: "Carrier" <sip:+14155550100@carrier.example.net>;tag=${o.fromTag ?? 'ft1'}`,
    `To: <sip:+15551230000@trunk.example.com>${o.toTag !== undefined ? `;tag=${o.toTag}` : ''}`,
    `Call-ID: ${o.callId ?? `call-${uniq()}@203.0.113.10`}`,
    `CSeq: ${o.cseq ?? 1} ${method}`,
    'Contact: <sip:+14155550100@203.0.113.10:5060>',
    ...(o.extra ?? []),
    'Content-Length: 0',
    '',
    '',
  ];
  return parse(lines.join('\r\n'));
}

/** A response to req made by createResponse, sent through bytes and parsed again (a real received response). */
export function responseTo(req: SipMessage, status: number, opts: ResponseOptions = {}): SipMessage {
  return parse(serialize(createResponse(req, status, opts)));
}

/** An ACK to a final response with the given branch (the UAC's ACK, received by the server side). */
export function ackFor(invite: SipMessage, res: SipMessage, branch: string | null): SipMessage {
  const via = invite.topVia;
  const sentBy = via.port === null ? via.host : `${via.host}:${via.port}`;
  return request({
    method: 'ACK',
    branch,
    transport: via.transport,
    sentBy,
    ruri: invite.requestUri,
    callId: invite.callId,
    cseq: invite.cseq.seq,
    fromTag: invite.fromTag ?? undefined,
    ...(res.toTag !== null ? { toTag: res.toTag } : {}),
  });
}

export interface ClientLog {
  provisional: SipMessage[];
  finals: SipMessage[];
  retrans2xx: SipMessage[];
  timeouts: number;
  transportErrors: Error[];
  handlers: ClientHandlers;
}

export function clientLog(): ClientLog {
  const log: ClientLog = {
    provisional: [],
    finals: [],
    retrans2xx: [],
    timeouts: 0,
    transportErrors: [],
    handlers: {
      onProvisional(res: SipMessage) {
        log.provisional.push(res);
      },
      onFinal(res: SipMessage) {
        log.finals.push(res);
      },
      onRetransmitted2xx(res: SipMessage) {
        log.retrans2xx.push(res);
      },
      onTimeout() {
        log.timeouts++;
      },
      onTransportError(_tx: ClientTransaction, err: Error) {
        log.transportErrors.push(err);
      },
    },
  };
  return log;
}

/** A request as the proxy forwards it: its own Via on top (branch given), the caller's below. */
export function outgoing(o: ReqOpts & { branch: string }): SipMessage {
  return request({
    sentBy: '192.0.2.1:5060',
    lowerVia: 'SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK-upstream;received=203.0.113.10',
    ...o,
  });
}

export const UDP_TARGET: Target = { proto: 'udp', host: '198.51.100.7', port: 5060 };
export const TCP_TARGET: Target = { proto: 'tcp', host: '198.51.100.7', port: 5060 };

/** Gaps between consecutive send times. */
export function gaps(sent: Sent[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < sent.length; i++) out.push(sent[i]!.at - sent[i - 1]!.at);
  return out;
}

/**
 * Watches the event loop from now on: `maxLateMs()` is the longest it was
 * held (node's own delay monitor, 1 ms resolution). A retransmission timer
 * can fire that much late when other work (the other tests of a file, the
 * other files of the suite) holds the loop; that lateness is the machine's,
 * not the transaction layer's.
 */
export function loopWatch(): { maxLateMs: () => number; stop: () => void } {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  return { maxLateMs: () => h.max / 1e6, stop: () => h.disable() };
}

/**
 * Each gap between sends is the wanted interval: never shorter (1 ms of
 * clock rounding), and longer by at most `slackMs` plus how late the event
 * loop ran meanwhile (`loopWatch`).
 */
export function assertGaps(got: number[], want: number[], lateMs: number, slackMs = 15): void {
  assert.ok(got.length >= want.length, `${got.length} gaps, want ${want.length}`);
  want.forEach((w, i) =>
    assert.ok(
      got[i]! >= w - 1 && got[i]! <= w + slackMs + lateMs,
      `gap ${i} = ${got[i]!.toFixed(1)}, want ~${w} (event loop up to ${lateMs.toFixed(1)} ms late)`,
    ),
  );
}
