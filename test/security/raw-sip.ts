/**
 * Raw SIP for the open-relay and stray-request tests: requests written
 * byte by byte (any Route, any To tag, compact headers), a UDP/TCP client
 * bound to a 127.0.0.x of its own (a stranger's host), a "carrier gateway"
 * that records everything it receives (UDP on IPv4 and IPv6, TCP) and can
 * answer as a UAS, and the server's message counters read from /metrics.
 */
import { createSocket, type Socket } from 'node:dgram';
import { connect, createServer, type Server } from 'node:net';
import { randomBytes } from 'node:crypto';
import { elapsedUntil } from '../helpers/wait.js';

export interface RawOptions {
  method: string;
  ruri: string;
  /** Route header lines, as written (one line each). */
  routes?: string[];
  /** To tag; null or absent: an initial request. */
  toTag?: string | null;
  fromTag?: string;
  callId?: string;
  cseq?: number;
  /** Via branch (a fresh one by default). */
  branch?: string;
  /** Compact header names (v, f, t, i, l, m). */
  compact?: boolean;
  extra?: string[];
}

export interface Sent {
  bytes: Buffer;
  branch: string;
  callId: string;
  fromTag: string;
}

const hex = (n: number): string => randomBytes(n).toString('hex');

/** A request from host:port over proto, with Route lines and tags as given. */
export function rawRequest(host: string, port: number, proto: 'UDP' | 'TCP', o: RawOptions): Sent {
  const branch = o.branch ?? `z9hG4bK${hex(6)}`;
  const callId = o.callId ?? `${hex(8)}@${host}`;
  const fromTag = o.fromTag ?? hex(4);
  const c = o.compact === true;
  const lines = [
    `${o.method} ${o.ruri} SIP/2.0`,
    `${c ? 'v' : 'Via'}: SIP/2.0/${proto} ${host}:${port};branch=${branch};rport`,
    'Max-Forwards: 70',
    `${c ? 'f' : 'From'}: <sip:caller@${host}>;tag=${fromTag}`,
    `${c ? 't' : 'To'}: <sip:callee@example.net>${o.toTag ? `;tag=${o.toTag}` : ''}`,
    `${c ? 'i' : 'Call-ID'}: ${callId}`,
    `CSeq: ${o.cseq ?? 1} ${o.method}`,
    `${c ? 'm' : 'Contact'}: <sip:caller@${host}:${port}>`,
    ...(o.routes ?? []).map((r) => `Route: ${r}`),
    ...(o.method === 'SUBSCRIBE' || o.method === 'NOTIFY' || o.method === 'PUBLISH' ? ['Event: presence'] : []),
    ...(o.method === 'NOTIFY' ? ['Subscription-State: active;expires=60'] : []),
    ...(o.method === 'REFER' ? ['Refer-To: <sip:third@example.net>'] : []),
    ...(o.method === 'PRACK' ? ['RAck: 1 1 INVITE'] : []),
    ...(o.extra ?? []),
    `${c ? 'l' : 'Content-Length'}: 0`,
    '',
    '',
  ];
  return { bytes: Buffer.from(lines.join('\r\n')), branch, callId, fromTag };
}

export interface Msg {
  /** Status of a response, 0 for a request. */
  status: number;
  reason: string;
  /** Method of a request ('' for a response). */
  method: string;
  text: string;
  header(name: string): string | undefined;
  headers(name: string): string[];
}

/** RFC 3261 7.3.3 compact forms of the headers these tests read. */
const COMPACT: Record<string, string> = {
  i: 'call-id',
  f: 'from',
  t: 'to',
  v: 'via',
  m: 'contact',
  l: 'content-length',
};

export function parseMsg(text: string): Msg {
  const first = text.slice(0, text.indexOf('\r\n'));
  const sm = /^SIP\/2\.0 (\d{3}) ?(.*)$/.exec(first);
  const head = text.slice(0, text.indexOf('\r\n\r\n') < 0 ? text.length : text.indexOf('\r\n\r\n'));
  const lines = head.split('\r\n').slice(1);
  const full = (n: string): string => COMPACT[n] ?? n;
  const headers = (name: string): string[] => {
    const n = full(name.toLowerCase());
    return lines
      .filter((l) => full(l.slice(0, l.indexOf(':')).trim().toLowerCase()) === n)
      .map((l) => l.slice(l.indexOf(':') + 1).trim());
  };
  return {
    status: sm === null ? 0 : Number(sm[1]),
    reason: sm?.[2] ?? '',
    method: sm === null ? first.slice(0, first.indexOf(' ')) : '',
    text,
    header: (name) => headers(name)[0],
    headers,
  };
}

/** The ACK for a non-2xx final answer to an INVITE we sent (RFC 3261 17.1.1.3): same branch, the answer's To. */
function ackFor(sent: Sent, reply: Msg, ruri: string, host: string, port: number, proto: 'UDP' | 'TCP'): Buffer {
  return Buffer.from(
    [
      `ACK ${ruri} SIP/2.0`,
      `Via: SIP/2.0/${proto} ${host}:${port};branch=${sent.branch};rport`,
      'Max-Forwards: 70',
      `From: ${reply.header('From')}`,
      `To: ${reply.header('To')}`,
      `Call-ID: ${sent.callId}`,
      'CSeq: 1 ACK',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );
}

/** A UDP client on `host` (a 127.0.0.x of its own): sends raw requests, collects every message it receives. */
export class RawPeer {
  private readonly sock: Socket = createSocket('udp4');
  readonly inbox: Msg[] = [];
  port = 0;

  constructor(readonly host: string) {}

  async open(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.sock.once('error', reject);
      this.sock.bind(0, this.host, () => resolve());
    });
    this.port = this.sock.address().port;
    this.sock.on('message', (d) => this.inbox.push(parseMsg(d.toString('latin1'))));
    return this;
  }

  request(o: RawOptions): Sent {
    return rawRequest(this.host, this.port, 'UDP', o);
  }

  send(bytes: Buffer, port: number, to = '127.0.0.1'): void {
    this.sock.send(bytes, port, to);
  }

  /** Sends a request, waits up to `ms` for its final answer (ACKed when the request was an INVITE); null when none came. */
  async ask(serverPort: number, o: RawOptions, ms = 1500): Promise<Msg | null> {
    const sent = this.request(o);
    this.send(sent.bytes, serverPort);
    const final = (): Msg | undefined => this.inbox.find((m) => m.status >= 200 && m.header('Call-ID') === sent.callId);
    await elapsedUntil(() => final() !== undefined, { timeoutMs: ms, intervalMs: 10 });
    const r = final() ?? null;
    if (r !== null && o.method === 'INVITE' && r.status >= 300)
      this.send(ackFor(sent, r, o.ruri, this.host, this.port, 'UDP'), serverPort);
    return r;
  }

  close(): void {
    this.sock.close();
  }
}

/** Sends one request over a fresh TCP connection from `host`; resolves with its final answer, or null after `ms`. */
export function tcpAsk(host: string, serverPort: number, o: RawOptions, ms = 1500): Promise<Msg | null> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port: serverPort, localAddress: host });
    let buf = '';
    let sent: Sent | null = null;
    const done = (r: Msg | null): void => {
      clearTimeout(timer);
      if (r !== null && sent !== null && o.method === 'INVITE' && r.status >= 300)
        s.write(ackFor(sent, r, o.ruri, host, s.localPort ?? 0, 'TCP'));
      s.end();
      resolve(r);
    };
    const timer = setTimeout(() => done(null), ms);
    s.on('connect', () => {
      sent = rawRequest(host, s.localPort ?? 0, 'TCP', o);
      s.write(sent.bytes);
    });
    s.on('data', (d) => {
      buf += d.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const m = parseMsg(buf.slice(0, end + 4));
        buf = buf.slice(end + 4);
        if (m.status >= 200) return done(m);
      }
    });
    s.on('error', () => done(null));
  });
}

/**
 * The "carrier gateway" (or callee): UDP on an IPv4 and an IPv6 address and
 * TCP, recording every message that reaches it. With `answer`, requests get
 * the response it makes (a UAS); without, nothing is answered.
 */
export class Gateway {
  readonly received: Array<{ via: 'udp4' | 'udp6' | 'tcp'; msg: Msg; from: { address: string; port: number } }> = [];
  private readonly udp4: Socket = createSocket('udp4');
  private readonly udp6: Socket = createSocket('udp6');
  private readonly tcp: Server = createServer();
  port = 0;
  port6 = 0;
  answer: ((req: Msg) => string | null) | null = null;

  constructor(
    readonly host: string,
    readonly host6 = '::1',
  ) {}

  async open(port: number, port6: number): Promise<this> {
    this.port = port;
    this.port6 = port6;
    const bind = (s: Socket, p: number, h: string): Promise<void> =>
      new Promise((resolve, reject) => {
        s.once('error', reject);
        s.bind(p, h, () => resolve());
      });
    await bind(this.udp4, port, this.host);
    await bind(this.udp6, port6, this.host6);
    await new Promise<void>((resolve, reject) => {
      this.tcp.once('error', reject);
      this.tcp.listen(port, this.host, () => resolve());
    });
    const onUdp = (via: 'udp4' | 'udp6', s: Socket) => (d: Buffer, rinfo: { address: string; port: number }) => {
      const msg = parseMsg(d.toString('latin1'));
      this.received.push({ via, msg, from: { address: rinfo.address, port: rinfo.port } });
      const out = msg.status === 0 && this.answer !== null ? this.answer(msg) : null;
      if (out !== null) s.send(Buffer.from(out), rinfo.port, rinfo.address);
    };
    this.udp4.on('message', onUdp('udp4', this.udp4));
    this.udp6.on('message', onUdp('udp6', this.udp6));
    this.tcp.on('connection', (c) => {
      c.on('data', (d) =>
        this.received.push({
          via: 'tcp',
          msg: parseMsg(d.toString('latin1')),
          from: { address: c.remoteAddress ?? '', port: c.remotePort ?? 0 },
        }),
      );
      c.on('error', () => undefined);
    });
    return this;
  }

  /** Sends from its UDP socket (a UAS sending its own requests). */
  send(bytes: Buffer, port: number, to = '127.0.0.1'): void {
    this.udp4.send(bytes, port, to);
  }

  /** Requests of `method` that reached it. */
  requests(method: string): Msg[] {
    return this.received.filter((r) => r.msg.method === method).map((r) => r.msg);
  }

  /** What reached it, one line per message, for assertion messages. */
  summary(): string {
    return this.received
      .map((r) => `${r.via} from ${r.from.address}:${r.from.port}: ${r.msg.text.split('\r\n')[0]}`)
      .join('\n');
  }

  close(): void {
    this.udp4.close();
    this.udp6.close();
    this.tcp.close();
  }
}

/** The 200 a UAS sends to `req`: Via, Record-Route, From, Call-ID, CSeq copied, a To tag added, our Contact. */
export function okFor(req: Msg, contact: string, toTag: string): string {
  const copy = (name: string): string[] => req.headers(name).map((v) => `${name}: ${v}`);
  const to = req.header('To')!;
  return [
    'SIP/2.0 200 OK',
    ...copy('Via'),
    ...copy('Record-Route'),
    `From: ${req.header('From')}`,
    `To: ${/;tag=/.test(to) ? to : `${to};tag=${toTag}`}`,
    `Call-ID: ${req.header('Call-ID')}`,
    `CSeq: ${req.header('CSeq')}`,
    `Contact: <${contact}>`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** The API address a server logged at start. */
export function apiOf(output: string): string {
  const api = /"api":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output)?.[1];
  if (api === undefined) throw new Error(`no API address in the log:\n${output}`);
  return api;
}

/** SIP requests the server received (in) and sent (out), by method, summed over transports. */
export async function requestCounts(
  api: string,
): Promise<{ in: Record<string, number>; out: Record<string, number>; outTotal: number; text: string }> {
  const text = await (await fetch(`${api}/metrics`)).text();
  const r = { in: {} as Record<string, number>, out: {} as Record<string, number>, outTotal: 0, text };
  for (const line of text.split('\n')) {
    if (!line.startsWith('trunkline_sip_requests_total{')) continue;
    const dir = /direction="(in|out)"/.exec(line)?.[1] as 'in' | 'out' | undefined;
    const method = /method="([^"]+)"/.exec(line)?.[1];
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (dir === undefined || method === undefined) continue;
    r[dir][method] = (r[dir][method] ?? 0) + v;
    if (dir === 'out') r.outTotal += v;
  }
  return r;
}

/** A value of trunkline_security_drops_total by reason. */
export async function securityDrops(api: string, reason: string): Promise<number> {
  const text = await (await fetch(`${api}/metrics`)).text();
  const m = new RegExp(`^trunkline_security_drops_total\\{reason="${reason}"\\} (\\S+)$`, 'm').exec(text);
  return m === null ? NaN : Number(m[1]);
}
