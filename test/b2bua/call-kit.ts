/**
 * A B2BUA with no sockets: the real B2bua, TransactionLayer, TimerWheel and
 * StoreTrunkingDirectory over an in-memory SQLite store, media engine
 * `none` (a MediaLink without an engine), and the in-memory transport of
 * test/transaction/helpers.ts recording every message sent. The test plays
 * the caller (a customer's PBX, trunk `pbx`) and the carrier's gateways,
 * feeding their messages to the layer as the transport would.
 *
 * Data: account acme, trunk pbx (203.0.113.10), DID +14155550100 of pbx
 * (the caller ID), carrier gw with gateways 198.51.100.1 and 198.51.100.2,
 * route `+` -> gw.
 */
import { createResponse } from '../../src/sip/response.js';
import { serialize } from '../../src/sip/serializer.js';
import type { SipMessage } from '../../src/sip/message.js';
import type { Flow } from '../../src/transport/types.js';
import type { ServerTransaction } from '../../src/transaction/server-transaction.js';
import type { TransactionUser } from '../../src/transaction/transaction-layer.js';
import { B2bua } from '../../src/b2bua/b2bua.js';
import type { B2buaEnv, B2buaTimers } from '../../src/b2bua/env.js';
import { MediaLink } from '../../src/b2bua/media-link.js';
import type { SessionTimerPolicy } from '../../src/b2bua/timer-policy.js';
import type { TransferPolicy } from '../../src/b2bua/transfer-policy.js';
import { Interfaces } from '../../src/dialog/interfaces.js';
import { Counters } from '../../src/core/counters.js';
import { CallLimiter } from '../../src/trunking/limits.js';
import { StoreTrunkingDirectory } from '../../src/trunking/directory.js';
import type { Cdr } from '../../src/trunking/model.js';
import { openStore, type Store } from '../../src/store/index.js';
import { flow, kit, uniq, type Kit, type Sent } from '../transaction/helpers.js';
import { parse } from '../helpers/sip-messages.js';
import { waitFor } from '../helpers/wait.js';
import { EventBus, type BusEvent } from '../../src/core/events.js';
import type { QualityBoard } from '../../src/trunking/quality.js';
import type { GatewayLoad } from '../../src/trunking/gateway-load.js';

export const CALLER_HOST = '203.0.113.10';
export const GW1 = '198.51.100.1';
export const GW2 = '198.51.100.2';
export const CALLER_NUMBER = '+14155550100';
export const DIALLED = '+15551230000';

export const SDP_OFFER = sdp('203.0.113.10', 40000);
export const SDP_ANSWER = sdp('198.51.100.50', 50000);

export function sdp(ip: string, port: number): string {
  return [
    'v=0',
    `o=- 1 1 IN IP4 ${ip}`,
    's=-',
    `c=IN IP4 ${ip}`,
    't=0 0',
    `m=audio ${port} RTP/AVP 0`,
    'a=rtpmap:0 PCMU/8000',
    '',
  ].join('\r\n');
}

class RecordingLog {
  readonly lines: Array<{ level: string; obj: object; msg: string }> = [];
  warn(obj: object, msg: string): void {
    this.lines.push({ level: 'warn', obj, msg });
  }
  info(obj: object, msg: string): void {
    this.lines.push({ level: 'info', obj, msg });
  }
  debug(): void {}
}

export interface CallKit {
  tk: Kit;
  b2bua: B2bua;
  store: Store;
  counters: Counters;
  log: RecordingLog;
  /** The caller's messages in (its flow: UDP from 203.0.113.10:5060). */
  fromCaller(msg: SipMessage): void;
  /** A gateway's messages in (UDP from host:5060). */
  fromGateway(host: string, msg: SipMessage): void;
  /** What was sent toward a host, in order. */
  sentTo(host: string): Sent[];
  /**
   * Compact form of sentTo(), each message once (retransmissions left out):
   * request methods ("INVITE", "ACK") and responses as status and method
   * ("180 INVITE", "200 CANCEL"), 100 Trying left out.
   */
  trace(host: string): string[];
  /** The CDRs written so far. */
  cdrs(): Promise<Cdr[]>;
  close(): Promise<void>;
}

/**
 * T1 50 ms (Timer B 3.2 s: no transaction times out while a test runs on a
 * loaded machine); a gateway without any answer for 2 s is given up.
 */
const T1 = 50;
const TIMERS: B2buaTimers = { t1: T1, t2: 4 * T1, gatewayTimeoutMs: 2000, ringTimeoutMs: 10_000 };

export interface CallKitOptions {
  /** RFC 4028 session timers per leg (absent: none, as in the tests of other features). */
  sessionTimers?: SessionTimerPolicy;
  /** What a REFER meets (absent: relayed, as in the tests of other features). */
  transfers?: TransferPolicy;
  /** Carrier quality, fed by the call.attempt events of the kit's bus (absent: none). */
  quality?: QualityBoard;
  /** Gateway order and capacity (absent: list order, no capacity). */
  load?: GatewayLoad;
}

export async function callKit(o: CallKitOptions = {}): Promise<CallKit> {
  const store = await openStore({ kind: 'sqlite', file: ':memory:' }, { env: {} });
  await store.accounts.add({ name: 'acme' });
  await store.trunks.add({ name: 'pbx', account: 'acme', ip: [CALLER_HOST] });
  await store.dids.add(CALLER_NUMBER, 'pbx');
  await store.carriers.add({ name: 'gw', gateways: [`sip:${GW1}:5060`, `sip:${GW2}:5060`] });
  await store.routes.add('+', ['gw']);
  const directory = new StoreTrunkingDirectory({ store, resolve: async () => [] });
  await directory.start();

  const tk = kit({ t1: T1, t2: 4 * T1, t4: 5 * T1, d: 500 });
  const counters = new Counters();
  const log = new RecordingLog();
  const bus = new EventBus();
  const quality = o.quality;
  if (quality !== undefined)
    bus.subscribe((e) => {
      if (e.type === 'call.attempt') quality.record((e as BusEvent<'call.attempt'>).data);
    });
  const load = o.load;
  const env: B2buaEnv = {
    layer: tk.layer,
    wheel: tk.wheel,
    transport: tk.transport,
    interfaces: new Interfaces([{ proto: 'udp', host: '192.0.2.1', port: 5060, boundPort: 5060 }], null),
    locate: async (uri) => [{ proto: 'udp', host: uri.host, port: uri.port ?? 5060 }],
    counters,
    log,
    agentName: null,
    bus,
    timers: TIMERS,
    cdrs: { write: (cdr) => store.cdrs.insert(cdr) },
    media: new MediaLink(null),
    ...(o.sessionTimers !== undefined && { sessionTimers: o.sessionTimers }),
    ...(o.transfers !== undefined && { transfers: o.transfers }),
    ...(load !== undefined && { load }),
  };
  const b2bua = new B2bua(env, {
    log,
    directory,
    limiter: new CallLimiter(),
    contacts: { contactsOf: async () => [] },
    gatewayUp: () => true,
    ourHost: '192.0.2.1',
    headerRule: () => null,
    inUse: () => true,
    policy: { inbound: () => null, outbound: () => null },
    fingerprintOf: () => null,
    ...(quality !== undefined && { quality }),
    ...(load !== undefined && { gatewayOrder: (c, callId) => load.order(c.name, c.gateways, callId) }),
  });

  // The part of the proxy (src/proxy/proxy.ts onRequest) that hands requests to the trunking stage.
  const tu: TransactionUser = {
    onRequest(req: SipMessage, tx: ServerTransaction | null, f: Flow): void {
      if (req.toTag !== null && b2bua.claimInDialog(req, tx, f)) return;
      if (tx === null) return;
      if (req.method === 'CANCEL') {
        const invite = tk.layer.findInviteServerTransaction(req);
        tx.respond(createResponse(req, invite === undefined ? 481 : 200));
        if (invite !== undefined) b2bua.cancel(invite);
        return;
      }
      if (!b2bua.handleInitial(req, tx, f)) tx.respond(createResponse(req, 404));
    },
    onStrayResponse(): void {},
  };
  tk.layer.setUser(tu);

  const deliver = (msg: SipMessage, f: Flow): void => {
    // Through bytes, as the transport would hand it over.
    const m = parse(serialize(msg));
    if (m.isRequest) tk.layer.receiveRequest(m, f);
    else tk.layer.receiveResponse(m, f);
  };
  const hostOf = (s: Sent): string | undefined => s.target?.host ?? s.flow?.remoteHost;
  const sentTo = (host: string): Sent[] => tk.transport.sent.filter((s) => hostOf(s) === host);
  return {
    tk,
    b2bua,
    store,
    counters,
    log,
    fromCaller: (msg) => deliver(msg, flow('udp', CALLER_HOST, 5060)),
    fromGateway: (host, msg) => deliver(msg, flow('udp', host, 5060)),
    sentTo,
    trace(host) {
      const seen = new Set<string>();
      const out: string[] = [];
      for (const s of sentTo(host)) {
        const bytes = s.data.toString('latin1');
        if (seen.has(bytes)) continue;
        seen.add(bytes);
        if (s.msg.isRequest) out.push(s.msg.method);
        else if (s.msg.status !== 100) out.push(`${s.msg.status} ${s.msg.cseq.method}`);
      }
      return out;
    },
    async cdrs() {
      await b2bua.cdrsWritten();
      return (await store.cdrs.list()).cdrs;
    },
    async close() {
      b2bua.hangUpAll('test over');
      await b2bua.cdrsWritten();
      tk.close();
      directory.stop();
      await store.close();
    },
  };
}

// ---- the caller (PBX) ------------------------------------------------------------------

export interface CallerDialog {
  callId: string;
  fromTag: string;
  invite: SipMessage;
}

/** An initial INVITE from the PBX to DIALLED, with an SDP offer unless `body` is null. */
export function callerInvite(body: string | null = SDP_OFFER): { invite: SipMessage; dialog: CallerDialog } {
  const callId = `caller-${uniq()}@${CALLER_HOST}`;
  const fromTag = `ct${uniq()}`;
  const invite = parse(
    [
      `INVITE sip:${DIALLED}@192.0.2.1 SIP/2.0`,
      `Via: SIP/2.0/UDP ${CALLER_HOST}:5060;branch=z9hG4bK-${uniq()}`,
      'Max-Forwards: 70',
      `From: <sip:${CALLER_NUMBER}@${CALLER_HOST}>;tag=${fromTag}`,
      `To: <sip:${DIALLED}@192.0.2.1>`,
      `Call-ID: ${callId}`,
      'CSeq: 1 INVITE',
      `Contact: <sip:${CALLER_NUMBER}@${CALLER_HOST}:5060>`,
      ...(body === null ? [] : ['Content-Type: application/sdp']),
      `Content-Length: ${body === null ? 0 : Buffer.byteLength(body)}`,
      '',
      body ?? '',
    ].join('\r\n'),
  );
  return { invite, dialog: { callId, fromTag, invite } };
}

/** The CANCEL of the caller's INVITE (RFC 3261 9.1: same branch, Call-ID, From, To, CSeq number). */
export function cancelOf(invite: SipMessage): SipMessage {
  const lines = [
    `CANCEL ${invite.requestUri} SIP/2.0`,
    `Via: ${invite.get('Via')}`,
    'Max-Forwards: 70',
    `From: ${invite.get('From')}`,
    `To: ${invite.get('To')}`,
    `Call-ID: ${invite.callId}`,
    `CSeq: ${invite.cseq.seq} CANCEL`,
    'Content-Length: 0',
    '',
    '',
  ];
  return parse(lines.join('\r\n'));
}

/**
 * A request inside a dialog, from the peer whose tag is `localTag`: `ruri`
 * is the Contact it was given, `from`/`to` the URIs of each end.
 */
export function inDialog(o: {
  method: string;
  ruri: string;
  viaHost: string;
  from: string;
  localTag: string;
  to: string;
  remoteTag: string;
  callId: string;
  cseq: number;
  body?: string;
  branch?: string;
}): SipMessage {
  const lines = [
    `${o.method} ${o.ruri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${o.viaHost}:5060;branch=${o.branch ?? `z9hG4bK-${uniq()}`}`,
    'Max-Forwards: 70',
    `From: <${o.from}>;tag=${o.localTag}`,
    `To: <${o.to}>;tag=${o.remoteTag}`,
    `Call-ID: ${o.callId}`,
    `CSeq: ${o.cseq} ${o.method}`,
    `Contact: <${o.from.replace(/@.*/, '')}@${o.viaHost}:5060>`,
    ...(o.body === undefined ? [] : ['Content-Type: application/sdp']),
    `Content-Length: ${o.body === undefined ? 0 : Buffer.byteLength(o.body)}`,
    '',
    o.body ?? '',
  ];
  return parse(lines.join('\r\n'));
}

/** The URI inside a Contact / name-addr value. */
export function uriOf(nameAddr: string): string {
  const m = /<([^>]+)>/.exec(nameAddr);
  return m === null ? nameAddr.split(';')[0]!.trim() : m[1]!;
}

/** A response to a request sent to a gateway (or to the caller), optionally with SDP. */
export function answer(req: SipMessage, status: number, toTag: string, body?: string): SipMessage {
  const headers: Array<[string, string]> =
    status >= 101 && status < 300 && req.method === 'INVITE'
      ? [['Contact', `<sip:gw@${uriHost(req.requestUri)}:5060>`]]
      : [];
  return createResponse(req, status, {
    toTag,
    headers,
    ...(body === undefined ? {} : { body: Buffer.from(body), contentType: 'application/sdp' }),
  });
}

function uriHost(uri: string): string {
  const at = uri.indexOf('@');
  const rest = uri.slice(at < 0 ? uri.indexOf(':') + 1 : at + 1);
  return rest.split(/[:;>]/)[0]!;
}

/** Waits until something matching was sent toward `host`; returns the n-th (0-based) such message. */
export async function sentMatching(
  ck: CallKit,
  host: string,
  what: string,
  match: (m: SipMessage) => boolean,
  n = 0,
): Promise<SipMessage> {
  let found: SipMessage | undefined;
  await waitFor(
    () => {
      found = ck.sentTo(host).filter((s) => match(s.msg))[n]?.msg;
      return found !== undefined;
    },
    { timeoutMs: 2000, what: `${what} toward ${host}` },
  );
  return found!;
}

export const isRequest = (method: string) => (m: SipMessage) => m.isRequest && m.method === method;
export const isResponse =
  (status: number, method = 'INVITE') =>
  (m: SipMessage) =>
    !m.isRequest && m.status === status && m.cseq.method === method;

/** A request of the gateway inside the dialog the B2BUA's INVITE `sent` made (the gateway's tag `gwTag`). */
export function fromGatewayInDialog(
  sent: SipMessage,
  gwHost: string,
  gwTag: string,
  method: string,
  cseq: number,
  body?: string,
): SipMessage {
  return inDialog({
    method,
    ruri: uriOf(sent.get('Contact') ?? ''),
    viaHost: gwHost,
    from: uriOf(sent.get('To') ?? ''),
    localTag: gwTag,
    to: uriOf(sent.get('From') ?? ''),
    remoteTag: sent.fromTag ?? '',
    callId: sent.callId,
    cseq,
    ...(body === undefined ? {} : { body }),
  });
}

/** A request of the caller inside its dialog with the B2BUA (`ok`: the B2BUA's 2xx to the INVITE). */
export function fromCallerInDialog(
  dialog: CallerDialog,
  ok: SipMessage,
  method: string,
  cseq: number,
  body?: string,
): SipMessage {
  return inDialog({
    method,
    ruri: uriOf(ok.get('Contact') ?? ''),
    viaHost: CALLER_HOST,
    from: `sip:${CALLER_NUMBER}@${CALLER_HOST}`,
    localTag: dialog.fromTag,
    to: `sip:${DIALLED}@192.0.2.1`,
    remoteTag: ok.toTag ?? '',
    callId: dialog.callId,
    cseq,
    ...(body === undefined ? {} : { body }),
  });
}
