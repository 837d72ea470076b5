/**
 * SIP peers on raw sockets for tests that must see exactly what arrives and
 * from where: a UDP peer on a loopback address (each 127.x stands for a host
 * on some network), a TCP connection with SIP framing. Messages are read
 * with the project's parser; the source address is the socket's own report.
 */
import { createSocket, type Socket } from 'node:dgram';
import { connect, createServer, type Server, type Socket as TcpSocket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { parseMessage } from '../../src/sip/parser.js';
import type { SipMessage } from '../../src/sip/message.js';

export interface Received {
  msg: SipMessage;
  text: string;
  /** Where it came from. */
  address: string;
  port: number;
  /** The TCP connection it came on (TCP peers). */
  conn?: TcpSocket;
}

export function rand(): string {
  return randomBytes(6).toString('hex');
}

/** Messages collected, waited for by a predicate (bounded in time). */
class Inbox {
  private readonly items: Received[] = [];
  private waiters: Array<{ pred: (r: Received) => boolean; resolve: (r: Received) => void }> = [];

  push(r: Received): void {
    const w = this.waiters.find((x) => x.pred(r));
    if (w !== undefined) {
      this.waiters = this.waiters.filter((x) => x !== w);
      w.resolve(r);
      return;
    }
    this.items.push(r);
  }

  /** The first message (held or to come) that `pred` accepts; rejects after `timeoutMs` naming `what`. */
  next(pred: (r: Received) => boolean, what: string, timeoutMs = 5000): Promise<Received> {
    const i = this.items.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.items.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (r: Received) => {
          clearTimeout(timer);
          resolve(r);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(
          new Error(
            `${what}: nothing within ${timeoutMs} ms; held: ${this.items.map((r) => r.text.split('\r\n')[0]).join(' | ') || 'none'}`,
          ),
        );
      }, timeoutMs);
      this.waiters.push(w);
    });
  }
}

function parsed(data: Buffer, address: string, port: number, conn?: TcpSocket): Received | null {
  const r = parseMessage(data);
  if (!r.ok) return null;
  return { msg: r.message, text: data.toString('utf8'), address, port, ...(conn !== undefined && { conn }) };
}

/** `req(method) with callId` / `res(status, cseq method)`. */
export const isRequest = (method: string, callId?: string) => (r: Received) =>
  r.msg.isRequest && r.msg.method === method && (callId === undefined || r.msg.callId === callId);
export const isResponse = (status: number, method: string, callId?: string) => (r: Received) =>
  !r.msg.isRequest &&
  r.msg.status === status &&
  r.msg.cseq.method === method &&
  (callId === undefined || r.msg.callId === callId);

export class UdpPeer {
  readonly inbox = new Inbox();

  private constructor(
    readonly sock: Socket,
    readonly ip: string,
    readonly port: number,
  ) {
    sock.on('message', (data, rinfo) => {
      const r = parsed(data, rinfo.address, rinfo.port);
      if (r !== null) this.inbox.push(r);
    });
  }

  static open(ip: string, port: number): Promise<UdpPeer> {
    return new Promise((resolve, reject) => {
      const s = createSocket('udp4');
      s.once('error', reject);
      s.bind(port, ip, () => {
        s.off('error', reject);
        resolve(new UdpPeer(s, ip, port));
      });
    });
  }

  send(text: string, host: string, port: number): void {
    this.sock.send(Buffer.from(text, 'utf8'), port, host);
  }

  next(pred: (r: Received) => boolean, what: string, timeoutMs?: number): Promise<Received> {
    return this.inbox.next(pred, what, timeoutMs);
  }

  close(): void {
    this.sock.close();
  }
}

/** Splits a TCP byte stream into SIP messages (headers, then Content-Length bytes). */
function frame(conn: TcpSocket, onMessage: (data: Buffer) => void): void {
  let buf = Buffer.alloc(0);
  conn.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    for (let guard = 0; guard < 100; guard++) {
      while (buf.length >= 2 && buf[0] === 13 && buf[1] === 10) buf = buf.subarray(2);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('utf8');
      const m = /^(?:content-length|l)\s*:\s*(\d+)/im.exec(head);
      const len = m === null ? 0 : Number(m[1]);
      if (buf.length < end + 4 + len) return;
      onMessage(buf.subarray(0, end + 4 + len));
      buf = buf.subarray(end + 4 + len);
    }
  });
}

/** A TCP side: a listening socket on ip:port, and/or connections it opens from ip:port. */
export class TcpPeer {
  readonly inbox = new Inbox();
  private server: Server | null = null;
  private readonly conns: TcpSocket[] = [];

  constructor(
    readonly ip: string,
    readonly port: number,
  ) {}

  private attach(conn: TcpSocket): void {
    this.conns.push(conn);
    conn.on('error', () => undefined);
    frame(conn, (data) => {
      const r = parsed(data, conn.remoteAddress ?? '', conn.remotePort ?? 0, conn);
      if (r !== null) this.inbox.push(r);
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = createServer((c) => this.attach(c));
      s.once('error', reject);
      s.listen(this.port, this.ip, () => {
        s.off('error', reject);
        this.server = s;
        resolve();
      });
    });
  }

  /** A connection to host:port from this peer's address (and its port, when `fromOwnPort`). */
  connect(host: string, port: number, fromOwnPort: boolean): Promise<TcpSocket> {
    return new Promise((resolve, reject) => {
      const c = connect({ host, port, localAddress: this.ip, ...(fromOwnPort && { localPort: this.port }) });
      c.once('error', reject);
      c.once('connect', () => {
        c.off('error', reject);
        this.attach(c);
        resolve(c);
      });
    });
  }

  next(pred: (r: Received) => boolean, what: string, timeoutMs?: number): Promise<Received> {
    return this.inbox.next(pred, what, timeoutMs);
  }

  close(): void {
    for (const c of this.conns) c.destroy();
    this.server?.close();
  }
}

/** A request as a UA writes it; `headers` after the common ones, Content-Length from the body. */
export function request(p: {
  method: string;
  uri: string;
  via: string;
  from: string;
  to: string;
  callId: string;
  cseq: number;
  contact?: string;
  routes?: string[];
  headers?: string[];
  body?: string;
}): string {
  const body = p.body ?? '';
  return [
    `${p.method} ${p.uri} SIP/2.0`,
    `Via: ${p.via}`,
    'Max-Forwards: 70',
    ...(p.routes ?? []).map((r) => `Route: ${r}`),
    `From: ${p.from}`,
    `To: ${p.to}`,
    `Call-ID: ${p.callId}`,
    `CSeq: ${p.cseq} ${p.method}`,
    ...(p.contact !== undefined ? [`Contact: ${p.contact}`] : []),
    ...(p.headers ?? []),
    ...(body.length > 0 ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

/** A response to `req` (its Via, From, To, Call-ID, CSeq and Record-Route copied). */
export function response(
  req: SipMessage,
  status: number,
  reason: string,
  p: { toTag?: string; contact?: string; body?: string } = {},
): string {
  const body = p.body ?? '';
  const to = req.get('To') ?? '';
  return [
    `SIP/2.0 ${status} ${reason}`,
    ...req.getAll('Via').map((v) => `Via: ${v}`),
    ...req.getAll('Record-Route').map((v) => `Record-Route: ${v}`),
    `From: ${req.get('From') ?? ''}`,
    `To: ${p.toTag !== undefined && !/;tag=/i.test(to) ? `${to};tag=${p.toTag}` : to}`,
    `Call-ID: ${req.callId}`,
    `CSeq: ${req.cseq.seq} ${req.cseq.method}`,
    ...(p.contact !== undefined ? [`Contact: ${p.contact}`] : []),
    ...(body.length > 0 ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

/** An SDP offer/answer with one audio stream at ip:port. */
export function sdp(ip: string, port: number): string {
  return [
    'v=0',
    `o=peer 1 1 IN IP4 ${ip}`,
    's=-',
    `c=IN IP4 ${ip}`,
    't=0 0',
    `m=audio ${port} RTP/AVP 0`,
    'a=rtpmap:0 PCMU/8000',
    'a=sendrecv',
    '',
  ].join('\r\n');
}

/** c= and the m=audio port of an SDP body. */
export function sdpAddress(body: string): { address: string; port: number } {
  const c = /^c=IN IP4 (\S+)/m.exec(body);
  const m = /^m=audio (\d+)/m.exec(body);
  if (c === null || m === null) throw new Error(`no c= or m=audio in:\n${body}`);
  return { address: c[1]!, port: Number(m[1]) };
}

/** host and port of a Record-Route/Route/Contact value `<sip:...host:port;...>`. */
export function uriHostPort(value: string): string {
  const m = /<sips?:(?:[^@>]*@)?([^;>]+)/.exec(value);
  if (m === null) throw new Error(`no URI in ${value}`);
  return m[1]!;
}
