/**
 * The proxy core without sockets: a full call (INVITE, 180, 200, ACK, BYE,
 * 200) through Ingress -> TransactionLayer -> Proxy, the "network" being a
 * transport that hands each sent datagram straight to a scripted UAC/UAS.
 * Prints the JS CPU per call, so changes to the hot path can be measured
 * before and after without the noise of real sockets and SIPp.
 *
 *   node dist/bench/proxy/core.js [--calls N]
 */
import { Ingress } from '../../src/core/ingress.js';
import { Responder } from '../../src/core/responder.js';
import { Counters } from '../../src/core/counters.js';
import { EventBus } from '../../src/core/events.js';
import { LocalIdentity } from '../../src/core/local-identity.js';
import { DEFAULT_PARSE_LIMITS, parseMessage } from '../../src/sip/parser.js';
import { TimerWheel } from '../../src/transaction/timer-wheel.js';
import { TransactionLayer } from '../../src/transaction/transaction-layer.js';
import type { Target } from '../../src/transaction/types.js';
import { Proxy } from '../../src/proxy/proxy.js';
import { Router } from '../../src/proxy/router.js';
import { Interfaces } from '../../src/dialog/interfaces.js';
import { DialogStamp } from '../../src/proxy/dialog-stamp.js';
import { randomBytes } from 'node:crypto';
import type { Flow } from '../../src/transport/types.js';
import type { SipUri } from '../../src/sip/uri.js';

const PROXY = { host: '127.0.0.1', port: 5060 };
const UAC = { host: '127.0.0.1', port: 5070 };
const UAS = { host: '127.0.0.1', port: 5090 };

const flowFrom = (peer: { host: string; port: number }): Flow => ({
  proto: 'udp',
  localHost: PROXY.host,
  localPort: PROXY.port,
  remoteHost: peer.host,
  remotePort: peer.port,
  connectionId: null,
});

/** Sent datagrams, delivered by the driver loop (not re-entrantly). */
const outbox: Array<{ to: number; data: Buffer }> = [];
const transport = {
  send(flow: Flow, data: Buffer): boolean {
    outbox.push({ to: flow.remotePort, data });
    return true;
  },
  async sendTo(target: Target, data: Buffer): Promise<Flow> {
    outbox.push({ to: target.port, data });
    return flowFrom({ host: target.host, port: target.port });
  },
};

const noLog = { warn: () => undefined, info: () => undefined, debug: () => undefined };
const counters = new Counters();
const wheel = new TimerWheel(10);
const layer = new TransactionLayer({ transport, wheel, log: noLog });
const identity = new LocalIdentity([{ host: PROXY.host, port: PROXY.port }], null);
const proxy = new Proxy(
  {
    layer,
    wheel,
    transport,
    locate: async (uri: SipUri) => [{ proto: 'udp', host: uri.host, port: uri.port ?? 5060 }],
    interfaces: new Interfaces([{ proto: 'udp', host: PROXY.host, port: PROXY.port, boundPort: PROXY.port }], null),
    bus: new EventBus(),
    isOurs: (h, p) => identity.isLocalHostPort(h, p),
    isLocalHost: (h) => identity.isLocalHost(h),
    isTrustedSource: () => false,
    dialogStamp: new DialogStamp(randomBytes(32)),
    counters,
    log: noLog,
    agentName: 'Trunkline',
    timerC: 181_000,
  },
  new Router([{ match: {}, forward: [`sip:${UAS.host}:${UAS.port}`], mode: 'serial', stateless: false }]),
);
layer.setUser(proxy);
const ingress = new Ingress(DEFAULT_PARSE_LIMITS, new Responder(transport, counters, 'Trunkline'), counters, noLog, {
  onRequest: (r, f) => layer.receiveRequest(r, f),
  onResponse: (r, f) => layer.receiveResponse(r, f),
});

const crlf = (lines: string[]): Buffer => Buffer.from(lines.join('\r\n'));
const SDP =
  'v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n';

function invite(n: number): Buffer {
  return crlf([
    `INVITE sip:service@${PROXY.host}:${PROXY.port} SIP/2.0`,
    `Via: SIP/2.0/UDP ${UAC.host}:${UAC.port};branch=z9hG4bK-uac-${n};rport`,
    `From: sipp <sip:sipp@${UAC.host}:${UAC.port}>;tag=uac${n}`,
    `To: service <sip:service@${PROXY.host}:${PROXY.port}>`,
    `Call-ID: ${n}-bench@127.0.0.1`,
    'CSeq: 1 INVITE',
    `Contact: sip:sipp@${UAC.host}:${UAC.port};transport=UDP`,
    'Max-Forwards: 70',
    'Subject: Performance Test',
    'Content-Type: application/sdp',
    `Content-Length: ${SDP.length}`,
    '',
    SDP,
  ]);
}

/** The UAS side: answer an INVITE with 180 and 200 (copying Via, Record-Route), a BYE with 200. */
function uasAnswer(req: Buffer): Buffer[] {
  const r = parseMessage(req);
  if (!r.ok) throw new Error(`UAS got garbage: ${r.error.message}`);
  const m = r.message;
  if (m.method === 'ACK') return [];
  const copy = ['Via', 'From', 'Call-ID', 'CSeq', 'Record-Route'].flatMap((h) =>
    m.fields.filter((f) => f.name === h).map((f) => `${h}: ${f.value}`),
  );
  const to = `To: ${m.get('To')}${m.toTag === null ? ';tag=uas1' : ''}`;
  const contact = `Contact: <sip:${UAS.host}:${UAS.port};transport=UDP>`;
  if (m.method === 'INVITE') {
    return [
      crlf(['SIP/2.0 180 Ringing', ...copy, to, contact, 'Content-Length: 0', '', '']),
      crlf([
        'SIP/2.0 200 OK',
        ...copy,
        to,
        contact,
        'Content-Type: application/sdp',
        `Content-Length: ${SDP.length}`,
        '',
        SDP,
      ]),
    ];
  }
  return [crlf(['SIP/2.0 200 OK', ...copy, to, 'Content-Length: 0', '', ''])];
}

/** The UAC side: ACK and BYE along the Record-Route of the 200, as a real UA does. */
function uacInDialog(ok200: Buffer, n: number): Buffer[] {
  const m = parseMessage(ok200);
  if (!m.ok) throw new Error('UAC got garbage');
  const routes = m.message.getAll('Record-Route').reverse();
  const toLine = `To: ${m.message.get('To')}`;
  const common = (method: string, seq: number, branch: string): string[] => [
    `${method} sip:${UAS.host}:${UAS.port};transport=UDP SIP/2.0`,
    `Via: SIP/2.0/UDP ${UAC.host}:${UAC.port};branch=z9hG4bK-${branch}-${n};rport`,
    `From: sipp <sip:sipp@${UAC.host}:${UAC.port}>;tag=uac${n}`,
    toLine,
    `Call-ID: ${n}-bench@127.0.0.1`,
    `CSeq: ${seq} ${method}`,
    ...routes.map((r) => `Route: ${r}`),
    'Max-Forwards: 70',
    'Content-Length: 0',
    '',
    '',
  ];
  return [crlf(common('ACK', 1, 'ack')), crlf(common('BYE', 2, 'bye'))];
}

async function drain(): Promise<Buffer[]> {
  const toUac: Buffer[] = [];
  for (let guard = 0; guard < 100; guard++) {
    await Promise.resolve();
    await new Promise((r) => setImmediate(r));
    if (outbox.length === 0) break;
    const batch = outbox.splice(0);
    for (const { to, data } of batch) {
      if (to === UAS.port) for (const reply of uasAnswer(data)) ingress.handle({ data: reply, flow: flowFrom(UAS) });
      else toUac.push(data);
    }
  }
  return toUac;
}

async function call(n: number): Promise<void> {
  ingress.handle({ data: invite(n), flow: flowFrom(UAC) });
  const got = await drain();
  const ok = got.find((b) => b.subarray(0, 14).toString() === 'SIP/2.0 200 OK');
  if (ok === undefined)
    throw new Error(
      `call ${n}: no 200 OK reached the UAC (${got.map((b) => b.subarray(0, 20).toString()).join(' | ')})`,
    );
  for (const req of uacInDialog(ok, n)) ingress.handle({ data: req, flow: flowFrom(UAC) });
  const end = await drain();
  if (!end.some((b) => b.subarray(0, 14).toString() === 'SIP/2.0 200 OK'))
    throw new Error(`call ${n}: BYE not answered`);
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--calls');
  const calls = i > 0 ? Number(process.argv[i + 1]) : 20000;
  for (let n = 0; n < 2000; n++) await call(n); // warm-up (JIT)
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let n = 0; n < calls; n++) await call(100000 + n);
  const cpu = process.cpuUsage(cpu0);
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  // Each call also pays the scripted UAC/UAS's own parsing; the figure is an upper bound for the core.
  // With --expose-gc: what stays alive (transactions waiting in Timers J/K/L/M), not garbage not yet collected.
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) gc();
  const mem = process.memoryUsage();
  const heap = mem.heapUsed / 1048576;
  const live = layer.serverCount() + layer.clientCount();
  console.log(
    `heap after${gc !== undefined ? ' a full GC' : ''}: ${heap.toFixed(1)} MiB, external ${(mem.external / 1048576).toFixed(1)} MiB (array buffers ${(mem.arrayBuffers / 1048576).toFixed(1)} MiB); ${((mem.heapUsed + mem.arrayBuffers) / Math.max(1, live / 4) / 1024).toFixed(1)} KiB per call still in its transactions; server transactions ${layer.serverCount()}, client transactions ${layer.clientCount()}, forward contexts ${proxy.activeContexts}, timers ${wheel.size()}`,
  );
  console.log(
    `${calls} calls in ${wall.toFixed(0)} ms: ${((cpu.user + cpu.system) / calls / 1000).toFixed(3)} ms CPU per call (core + scripted peers), ${counters.get('proxy_requests_forwarded')} requests forwarded`,
  );
  layer.stop();
  wheel.stop();
}

void main();
