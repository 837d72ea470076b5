/**
 * SIP capture to a Homer collector: every SIP message the transport layer
 * receives or sends, as one HEPv3 packet (hep.ts), over UDP (one datagram
 * per message) or TCP (packets back to back on one connection, reconnected
 * after a failure). Set by `capture: {hep: udp:IP:PORT, id: N}` and switched
 * on, off or elsewhere by a config reload.
 *
 * Correlation: a module that knows two Call-IDs belong to one call (the
 * B2BUA's two legs) calls `correlate(callId, id)`; messages with that
 * Call-ID then carry chunk 17 = id, and Homer shows the legs as one call.
 * The Call-ID is looked for in a message only while such entries exist.
 *
 * Sending never throws into the transport: a failure is counted and logged
 * at most once a minute.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { HostPort } from '../config/address.js';
import type { Flow } from '../transport/types.js';
import { encodeHep } from './hep.js';

export interface CaptureConfig {
  hep?: HostPort & { proto: 'udp' | 'tcp' };
  id: number;
}

export interface CaptureLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export type Direction = 'in' | 'out';

/** At most this many correlation entries; the oldest go first. */
const MAX_CORRELATIONS = 100_000;
/** TCP: bytes queued while (re)connecting before packets are dropped. */
const MAX_TCP_QUEUE = 4 * 1024 * 1024;
const RECONNECT_MS = 1000;
/** UDP: packets kept while the socket connects, before packets are dropped. */
const MAX_UDP_QUEUE = 1000;

export interface CaptureStats {
  sent: number;
  dropped: number;
  errors: number;
}

export class HepCapture {
  readonly stats: CaptureStats = { sent: 0, dropped: 0, errors: 0 };
  readonly #log: CaptureLog;
  #target: (HostPort & { proto: 'udp' | 'tcp' }) | null = null;
  #id = 0;
  /** UDP: one socket connected to the collector (no address lookup per send). */
  #udp: dgram.Socket | null = null;
  #udpReady = false;
  #udpQueue: Buffer[] = [];
  #tcp: net.Socket | null = null;
  #tcpReady = false;
  #tcpQueue: Buffer[] = [];
  #tcpQueued = 0;
  #reconnect: NodeJS.Timeout | null = null;
  #lastWarn = 0;
  readonly #correlations = new Map<string, string>();

  constructor(log: CaptureLog) {
    this.#log = log;
  }

  /** Whether messages are being captured. */
  get enabled(): boolean {
    return this.#target !== null;
  }

  /** Applies a capture config (at start and at each reload): on, off, or to another collector. */
  configure(c: CaptureConfig): void {
    const next = c.hep ?? null;
    const same = next !== null && this.#target !== null && next.proto === this.#target.proto && next.host === this.#target.host && next.port === this.#target.port;
    this.#id = c.id;
    if (same) return;
    const was = this.#target;
    this.#closeSockets();
    this.#target = next;
    if (next === null) {
      if (was !== null) this.#log.info({}, 'HEP capture off');
      return;
    }
    if (next.proto === 'tcp') this.#connectTcp();
    this.#log.info({ hep: `${next.proto}:${next.host}:${next.port}`, id: c.id }, 'HEP capture on');
  }

  /** Messages with this Call-ID carry `id` as their correlation id. */
  correlate(callId: string, id: string): void {
    if (this.#correlations.size >= MAX_CORRELATIONS) {
      const oldest = this.#correlations.keys().next().value;
      if (oldest !== undefined) this.#correlations.delete(oldest);
    }
    this.#correlations.set(callId, id);
  }

  uncorrelate(callId: string): void {
    this.#correlations.delete(callId);
  }

  /** The transport tap: one SIP message received (`in`) or sent (`out`) on `flow`. */
  readonly tap = (dir: Direction, data: Buffer, flow: Flow): void => {
    const target = this.#target;
    if (target === null || data.length <= 4) return; // CRLF keep-alives are not SIP messages
    try {
      const inbound = dir === 'in';
      const family = flow.localHost.includes(':') ? 6 : 4;
      const now = performance.timeOrigin + performance.now();
      const callId = this.#correlations.size > 0 ? callIdOf(data) : null;
      const corr = callId !== null ? this.#correlations.get(callId) : undefined;
      const packet = encodeHep({
        family,
        ipProto: flow.proto === 'udp' ? 17 : 6,
        srcIp: inbound ? flow.remoteHost : flow.localHost,
        srcPort: inbound ? flow.remotePort : flow.localPort,
        dstIp: inbound ? flow.localHost : flow.remoteHost,
        dstPort: inbound ? flow.localPort : flow.remotePort,
        timeUs: Math.floor(now * 1000),
        captureId: this.#id,
        payload: data,
        ...(corr !== undefined && { correlationId: corr }),
      });
      this.#send(target, packet);
    } catch (err) {
      this.#fail(err);
    }
  };

  #send(target: HostPort & { proto: 'udp' | 'tcp' }, packet: Buffer): void {
    if (target.proto === 'udp') {
      if (this.#udpReady) {
        this.#udp!.send(packet);
        this.stats.sent++;
      } else if (this.#udpQueue.length < MAX_UDP_QUEUE) {
        this.#udpQueue.push(packet);
        if (this.#udp === null) this.#connectUdp(target);
      } else {
        this.stats.dropped++;
      }
      return;
    }
    if (this.#tcpReady && this.#tcp !== null) {
      this.#tcp.write(packet);
      this.stats.sent++;
      return;
    }
    if (this.#tcpQueued + packet.length > MAX_TCP_QUEUE) {
      this.stats.dropped++;
      return;
    }
    this.#tcpQueue.push(packet);
    this.#tcpQueued += packet.length;
  }

  #connectUdp(target: HostPort): void {
    const sock = dgram.createSocket(target.host.includes(':') ? 'udp6' : 'udp4');
    this.#udp = sock;
    sock.on('error', (err) => this.#fail(err));
    sock.unref();
    sock.connect(target.port, target.host, () => {
      if (this.#udp !== sock) return;
      this.#udpReady = true;
      for (const p of this.#udpQueue) {
        sock.send(p);
        this.stats.sent++;
      }
      this.#udpQueue = [];
    });
  }

  #connectTcp(): void {
    const target = this.#target;
    if (target === null || target.proto !== 'tcp') return;
    const sock = net.connect({ host: target.host, port: target.port });
    sock.unref();
    this.#tcp = sock;
    this.#tcpReady = false;
    sock.on('connect', () => {
      if (this.#tcp !== sock) return;
      this.#tcpReady = true;
      for (const p of this.#tcpQueue) {
        sock.write(p);
        this.stats.sent++;
      }
      this.#tcpQueue = [];
      this.#tcpQueued = 0;
    });
    sock.on('error', (err) => this.#fail(err));
    sock.on('close', () => {
      if (this.#tcp !== sock) return;
      this.#tcp = null;
      this.#tcpReady = false;
      this.#reconnect = setTimeout(() => {
        this.#reconnect = null;
        this.#connectTcp();
      }, RECONNECT_MS);
      this.#reconnect.unref();
    });
  }

  #fail(err: unknown): void {
    this.stats.errors++;
    const now = Date.now();
    if (now - this.#lastWarn < 60_000) return;
    this.#lastWarn = now;
    const t = this.#target;
    this.#log.warn({ hep: t ? `${t.proto}:${t.host}:${t.port}` : null, err: err instanceof Error ? err.message : String(err) }, 'HEP capture: sending failed');
  }

  #closeSockets(): void {
    if (this.#reconnect !== null) clearTimeout(this.#reconnect);
    this.#reconnect = null;
    this.#udp?.close();
    this.#udp = null;
    this.#udpReady = false;
    this.#udpQueue = [];
    const tcp = this.#tcp;
    this.#tcp = null;
    this.#tcpReady = false;
    tcp?.end();
    this.#tcpQueue = [];
    this.#tcpQueued = 0;
  }

  /** Closes the sockets; nothing is captured after. */
  stop(): void {
    this.#closeSockets();
    this.#target = null;
  }
}

const CALL_ID_NAMES = ['\r\nCall-ID:', '\r\ncall-id:', '\r\nCall-Id:', '\r\nCALL-ID:', '\r\ni:'];

/** The Call-ID of a raw SIP message (its usual spellings and the compact `i`), or null. */
export function callIdOf(data: Buffer): string | null {
  const end = data.indexOf('\r\n\r\n');
  const head = end >= 0 ? data.subarray(0, end + 2) : data;
  for (const name of CALL_ID_NAMES) {
    const at = head.indexOf(name, 0, 'latin1');
    if (at < 0) continue;
    const start = at + name.length;
    const eol = head.indexOf('\r\n', start);
    return head.toString('latin1', start, eol < 0 ? head.length : eol).trim();
  }
  return null;
}
