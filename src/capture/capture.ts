/**
 * SIP capture to a Homer collector: every SIP message the transport layer
 * receives or sends, as one HEPv3 packet (hep.ts), over UDP (one datagram
 * per message) or TCP (packets back to back on one connection, reconnected
 * after a failure). Set by `capture: {hep: udp:IP:PORT, id: N}` and switched
 * on, off or elsewhere by a config reload.
 *
 * Correlation (chunk 17): every message carries the Call-ID of its call's
 * first leg. A message outside a B2BUA call, and every message of a B2BUA
 * call's caller leg (the first INVITE in and our 100 Trying to it included:
 * they come before the call exists), carries its own Call-ID, read from the
 * message with no lookup. A leg we originate for a call (the callee's leg)
 * carries the caller leg's Call-ID: `correlate(bCallId, aCallId)` says so,
 * and the resolver (`setLegResolver`) finds it for the first INVITE of a
 * leg before anyone has called `correlate`. Homer shows messages whose
 * correlation id is a Call-ID together with that Call-ID's messages: the
 * two legs as one call.
 *
 * Packets are sent in batches, back to back over UDP and in one write over
 * TCP: a batch leaves at the end of the event loop's turn in which it
 * reached its size, or a few ms after its first packet when traffic is
 * thin (BATCH). Under load the server is awake anyway and no timer fires; the
 * collector is woken once per batch. The time in each packet is the
 * message's own; Homer orders by it.
 *
 * Sending never throws into the transport: a failure is counted and logged
 * at most once a minute.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { HostPort } from '../config/address.js';
import type { Flow } from '../transport/types.js';
import { encodeHepInto } from './hep.js';
import { callIdSpan, fromTagOf } from './raw-headers.js';

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
/**
 * A batch is encoded into one buffer of `arena` bytes (a bigger one for a
 * packet that needs it); it leaves at the end of the event loop's turn in
 * which it holds `packets`, and any batch leaves `ms` after its first packet
 * (a timer, armed per batch, fires only when traffic is too thin to fill
 * one). Over TCP a batch is one write, whose fixed cost (the syscall, the
 * collector woken, on loopback its TCP receive and ACK too) measured about
 * 37 us: big batches (~100 KB, 50 ms at most). Over UDP every packet is a
 * datagram of its own whatever the batch, so batches stay small and early.
 */
const BATCH = {
  tcp: { arena: 128 * 1024, packets: 128, ms: 50 },
  udp: { arena: 32 * 1024, packets: 32, ms: 20 },
} as const;

/**
 * The correlation id of an outbound request on a leg we originate (from
 * its Call-ID and our From tag): the caller leg's Call-ID, or null when
 * the leg is not ours.
 */
export type CorrelationResolver = (callId: string, fromTag: string) => string | null;

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
  /** Whole batches (one buffer each) and their packet counts, while connecting. */
  #tcpQueue: Array<{ bytes: Buffer; packets: number }> = [];
  #tcpQueued = 0;
  #reconnect: NodeJS.Timeout | null = null;
  #lastWarn = 0;
  /** The current batch: its packets back to back in `#arena` up to `#used`, each ending at one of `#ends`. */
  #arena: Buffer | null = null;
  /**
   * The last batch's buffer, once the socket has handed all of it to the
   * kernel: the next batch is written into it. A new buffer per batch made
   * V8 count 2.4 MB/s of fresh external memory at 200 calls/s, and start
   * full collections for it.
   */
  #spare: Buffer | null = null;
  #used = 0;
  #ends: number[] = [];
  #check: NodeJS.Immediate | null = null;
  #deadline: NodeJS.Timeout | null = null;
  /** Call-ID of a leg we originate -> the caller leg's Call-ID, as bytes. */
  readonly #correlations = new Map<string, Buffer>();
  #resolve: CorrelationResolver | null = null;

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
    const same =
      next !== null &&
      this.#target !== null &&
      next.proto === this.#target.proto &&
      next.host === this.#target.host &&
      next.port === this.#target.port;
    this.#id = c.id;
    if (same) return;
    const was = this.#target;
    this.#flush();
    this.#closeSockets();
    this.#target = next;
    if (next === null) {
      if (was !== null) this.#log.info({}, 'HEP capture off');
      return;
    }
    if (next.proto === 'tcp') this.#connectTcp();
    this.#log.info({ hep: `${next.proto}:${next.host}:${next.port}`, id: c.id }, 'HEP capture on');
  }

  /** Messages with Call-ID `callId` (a leg we originate) carry `id` (the caller leg's Call-ID) as their correlation id. */
  correlate(callId: string, id: string): void {
    if (callId === id) return;
    if (this.#correlations.size >= MAX_CORRELATIONS) {
      const oldest = this.#correlations.keys().next().value;
      if (oldest !== undefined) this.#correlations.delete(oldest);
    }
    this.#correlations.set(callId, Buffer.from(id, 'latin1'));
  }

  uncorrelate(callId: string): void {
    this.#correlations.delete(callId);
  }

  /** Who tells the caller leg's Call-ID of a leg we originate, at its first INVITE (the B2BUA). */
  setLegResolver(r: CorrelationResolver | null): void {
    this.#resolve = r;
  }

  /**
   * The transport tap: one SIP message received (`in`) or sent (`out`) on
   * `flow`; `callId` is where its Call-ID is (callIdSpan), when the caller
   * has found it already.
   */
  readonly tap = (
    dir: Direction,
    data: Buffer,
    flow: Flow,
    callId: [number, number] | null = callIdSpan(data),
  ): void => {
    const target = this.#target;
    if (target === null || data.length <= 4) return; // CRLF keep-alives are not SIP messages
    try {
      const inbound = dir === 'in';
      const now = performance.timeOrigin + performance.now();
      const corr = this.#correlationOf(inbound, data, callId);
      const p = {
        family: flow.localHost.includes(':') ? 6 : 4,
        ipProto: flow.proto === 'udp' ? 17 : 6,
        srcIp: inbound ? flow.remoteHost : flow.localHost,
        srcPort: inbound ? flow.remotePort : flow.localPort,
        dstIp: inbound ? flow.localHost : flow.remoteHost,
        dstPort: inbound ? flow.localPort : flow.remotePort,
        timeUs: Math.floor(now * 1000),
        captureId: this.#id,
        payload: data,
        correlationId: corr,
      } as const;
      let n = this.#arena === null ? -1 : encodeHepInto(p, this.#arena, this.#used);
      if (n < 0) {
        // No batch yet, or this packet does not fit in it: the batch leaves, a new one starts.
        if (this.#arena !== null) this.#flush();
        const spare = this.#spare;
        this.#spare = null;
        this.#arena =
          spare !== null && spare.length >= -n
            ? spare
            : Buffer.allocUnsafeSlow(Math.max(BATCH[target.proto].arena, -n));
        n = encodeHepInto(p, this.#arena, 0);
      }
      if (this.#ends.length === 0) {
        this.#deadline = setTimeout(this.#onDeadline, BATCH[target.proto].ms);
        this.#deadline.unref();
      }
      this.#used += n;
      this.#ends.push(this.#used);
      if (this.#ends.length >= BATCH[target.proto].packets && this.#check === null)
        this.#check = setImmediate(this.#onCheck);
    } catch (err) {
      this.#fail(err);
    }
  };

  /**
   * The correlation id of a message, as bytes: the caller leg's Call-ID for
   * a leg we originate, else the message's own Call-ID (a slice of it, not
   * copied); null without a Call-ID.
   */
  #correlationOf(inbound: boolean, data: Buffer, span: [number, number] | null): Buffer | null {
    if (span === null) return null;
    const own = data.subarray(span[0], span[1]);
    const map = this.#correlations;
    const resolve = this.#resolve;
    // Only a request we send can open a leg of ours (its first INVITE); anything else is looked up only while legs exist.
    const opening = !inbound && resolve !== null && startsWithInvite(data);
    if (map.size === 0 && !opening) return own;
    const callId = own.toString('latin1');
    const known = map.get(callId);
    if (known !== undefined) return known;
    if (!opening) return own;
    const tag = fromTagOf(data);
    const a = tag === null ? null : resolve(callId, tag);
    if (a === null || a === callId) return own;
    this.correlate(callId, a);
    return this.#correlations.get(callId) ?? own;
  }

  /** End of a turn with a full batch. */
  readonly #onCheck = (): void => {
    this.#check = null;
    if (this.#target !== null && this.#ends.length >= BATCH[this.#target.proto].packets) this.#flush();
  };

  readonly #onDeadline = (): void => {
    this.#deadline = null;
    this.#flush();
  };

  /** Sends the current batch, back to back. */
  #flush(): void {
    if (this.#check !== null) clearImmediate(this.#check);
    this.#check = null;
    if (this.#deadline !== null) clearTimeout(this.#deadline);
    this.#deadline = null;
    const arena = this.#arena;
    const ends = this.#ends;
    const used = this.#used;
    this.#arena = null;
    this.#used = 0;
    this.#ends = [];
    const target = this.#target;
    if (arena === null || ends.length === 0 || target === null) return;
    try {
      if (target.proto === 'tcp') this.#sendTcp(arena.subarray(0, used), ends.length);
      else {
        let start = 0;
        for (const end of ends) {
          this.#sendUdp(target, arena.subarray(start, end));
          start = end;
        }
      }
    } catch (err) {
      this.#fail(err);
    }
    // Reused only when no send still holds a view of it (written synchronously, nothing queued).
    if (this.#handedOver()) this.#spare = arena;
  }

  /** Whether every packet sent so far has left Node's queues for the kernel. */
  #handedOver(): boolean {
    if (this.#tcp !== null) return this.#tcpReady && this.#tcp.writableLength === 0 && this.#tcpQueue.length === 0;
    return this.#udp !== null && this.#udpReady && this.#udpQueue.length === 0 && this.#udp.getSendQueueCount() === 0;
  }

  #sendUdp(target: HostPort, packet: Buffer): void {
    if (this.#udpReady) {
      this.#udp!.send(packet);
      this.stats.sent++;
    } else if (this.#udpQueue.length < MAX_UDP_QUEUE) {
      this.#udpQueue.push(packet);
      if (this.#udp === null) this.#connectUdp(target);
    } else {
      this.stats.dropped++;
    }
  }

  /** A batch over TCP: one write. */
  #sendTcp(bytes: Buffer, packets: number): void {
    if (this.#tcpReady && this.#tcp !== null) {
      this.#tcp.write(bytes);
      this.stats.sent += packets;
      return;
    }
    if (this.#tcpQueued + bytes.length > MAX_TCP_QUEUE) {
      this.stats.dropped += packets;
      return;
    }
    this.#tcpQueue.push({ bytes, packets });
    this.#tcpQueued += bytes.length;
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
      for (const q of this.#tcpQueue) {
        sock.write(q.bytes);
        this.stats.sent += q.packets;
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
    this.#log.warn(
      { hep: t ? `${t.proto}:${t.host}:${t.port}` : null, err: err instanceof Error ? err.message : String(err) },
      'HEP capture: sending failed',
    );
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

  /** Sends what is waiting, closes the sockets; nothing is captured after. */
  stop(): void {
    this.#flush();
    this.#closeSockets();
    this.#target = null;
  }
}

const INVITE_SP = Buffer.from('INVITE ', 'latin1');

function startsWithInvite(data: Buffer): boolean {
  return (
    data.length > INVITE_SP.length &&
    data[0] === 0x49 /* I */ &&
    data.compare(INVITE_SP, 0, INVITE_SP.length, 0, INVITE_SP.length) === 0
  );
}
