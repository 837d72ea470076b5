/**
 * Keep-alive for NATed contacts: bindings whose REGISTER came from another
 * address than their Contact (`received` set by the registrar) are pinged
 * every interval so the NAT keeps the mapping open.
 *
 * - UDP: an OPTIONS (Request-URI = the contact, Call-ID `ka-...`) from our UDP
 *   listener to the received address. Its answers come back as stray
 *   responses (no client transaction): `consume` takes those with a `ka-`
 *   Call-ID so that the proxy does not relay them.
 * - TCP/TLS/WS/WSS: a CRLFCRLF ping (RFC 5626 3.5.1) on the open connection to
 *   the received address; none is opened when there is none.
 *
 * Work per tick is bounded: at most `maxPerTick` bindings, walked by id from
 * where the previous tick stopped.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import type { SipMessage } from '../sip/message.js';
import { isSipUri, tryParseUri } from '../sip/uri.js';
import { parsedOrNull } from '../sip/errors.js';
import type { LocationBinding } from '../store/repos/location.js';
import type { Flow, TransportProto } from '../transport/types.js';
import type { SipInterface } from '../dialog/interfaces.js';
import { uacRequest } from '../dialog/uac-request.js';
import { newTagValue } from '../dialog/sid.js';
import { serialize } from '../sip/serializer.js';

export const KEEPALIVE_CALL_ID_PREFIX = 'ka-';
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const PROTOS: ReadonlySet<string> = new Set(['udp', 'tcp', 'tls', 'ws', 'wss']);

export interface KeepAliveOptions {
  location: { listLiveReceived(afterId: number, limit: number): Promise<LocationBinding[]> };
  transport: {
    send(flow: Flow, data: Buffer): boolean;
    sendTo(target: { proto: TransportProto; host: string; port: number }, data: Buffer): Promise<Flow>;
  };
  /** Our interface for `proto` toward `host` (Via and From), null when we do not listen on it. */
  interfaceFor(proto: TransportProto, host: string): SipInterface | null;
  /** Milliseconds between rounds; default 30 s. */
  intervalMs?: number;
  /** Bindings handled per tick at most; default 1000. */
  maxPerTick?: number;
  log?: Logger;
}

export interface KeepAliveStats {
  /** OPTIONS sent over UDP. */
  optionsSent: number;
  /** Responses to those OPTIONS (one per OPTIONS at most). */
  optionsAnswered: number;
  /** CRLFCRLF pings written on stream connections. */
  crlfSent: number;
  /** Bindings skipped: unusable received address, no listener, no open connection. */
  skipped: number;
}

/** `sip:IP:PORT;transport=PROTO` as the registrar writes it; null when it is not that. */
export function parseReceived(received: string): { proto: TransportProto; host: string; port: number } | null {
  const u = tryParseUri(received);
  if (u === null || !isSipUri(u) || u.port === null || u.hostType === 'domain') return null;
  const t = u.params.get('transport');
  const proto = typeof t === 'string' ? t.toLowerCase() : 'udp';
  if (!PROTOS.has(proto)) return null;
  const host = u.hostType === 'ipv6' ? u.host.slice(1, -1) : u.host;
  return { proto: proto as TransportProto, host, port: u.port };
}

export class KeepAlive {
  readonly stats: KeepAliveStats = { optionsSent: 0, optionsAnswered: 0, crlfSent: 0, skipped: 0 };
  private readonly intervalMs: number;
  private readonly maxPerTick: number;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private stopped = false;
  private cursor = 0;
  /** Call-IDs of OPTIONS in flight -> when sent; forgotten after two intervals. */
  private readonly pending = new Map<string, number>();

  constructor(private readonly opts: KeepAliveOptions) {
    this.intervalMs = opts.intervalMs ?? 30_000;
    this.maxPerTick = opts.maxPerTick ?? 1000;
    if (!(this.intervalMs > 0)) throw new Error('keep-alive interval must be positive');
  }

  start(): void {
    if (this.timer !== null) return;
    this.stopped = false;
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.pending.clear();
  }

  /** One round (one page of bindings); ticks do not overlap. */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const now = Date.now();
      for (const [id, at] of this.pending) if (now - at > 2 * this.intervalMs) this.pending.delete(id);
      const page = await this.opts.location.listLiveReceived(this.cursor, this.maxPerTick);
      // A short page is the end of the table: start over next tick.
      this.cursor = page.length < this.maxPerTick ? 0 : page[page.length - 1]!.id;
      for (const b of page) this.ping(b, now);
    } catch (err) {
      // A round cut short by stop() (the store closing) is not worth a warning.
      if (!this.stopped) this.opts.log?.warn({ err: String(err) }, 'keep-alive round failed');
    } finally {
      this.running = false;
    }
  }

  /** A stray response: true when it answers one of our OPTIONS (counted and consumed). */
  consume(res: SipMessage): boolean {
    const callId = parsedOrNull(() => res.callId);
    if (callId === null || !callId.startsWith(KEEPALIVE_CALL_ID_PREFIX)) return false;
    if (res.status >= 200 && this.pending.delete(callId)) this.stats.optionsAnswered++;
    return true;
  }

  private ping(b: LocationBinding, now: number): void {
    const to = b.received === null ? null : parseReceived(b.received);
    if (to === null) {
      this.stats.skipped++;
      return;
    }
    if (to.proto === 'udp') {
      const iface = this.opts.interfaceFor('udp', to.host);
      if (iface === null) {
        this.stats.skipped++;
        return;
      }
      const callId = `${KEEPALIVE_CALL_ID_PREFIX}${randomBytes(12).toString('hex')}`;
      let data: Buffer;
      try {
        data = buildOptions(b.contact, iface, callId);
      } catch (err) {
        // A stored contact that cannot be written into a request: this binding is passed over, the round goes on.
        this.stats.skipped++;
        this.opts.log?.debug({ contact: b.contact, err: String(err) }, 'keep-alive OPTIONS not built');
        return;
      }
      this.pending.set(callId, now);
      this.stats.optionsSent++;
      this.opts.transport.sendTo(to, data).catch((err: unknown) => {
        this.pending.delete(callId);
        this.opts.log?.debug({ to: b.received, err: String(err) }, 'keep-alive OPTIONS not sent');
      });
      return;
    }
    const connectionId = b.connectionId === null ? null : Number(b.connectionId);
    const flow: Flow = {
      proto: to.proto,
      localHost: b.localHost,
      localPort: b.localPort,
      remoteHost: to.host,
      remotePort: to.port,
      connectionId: connectionId !== null && Number.isInteger(connectionId) ? connectionId : null,
    };
    if (this.opts.transport.send(flow, CRLFCRLF)) this.stats.crlfSent++;
    else this.stats.skipped++;
  }
}

/** The keep-alive OPTIONS to `contact`, from our interface (throws when `contact` cannot be written in one). */
export function buildOptions(contact: string, iface: SipInterface, callId: string): Buffer {
  return serialize(
    uacRequest({
      method: 'OPTIONS',
      uri: contact,
      iface,
      from: `<sip:keepalive@${iface.host}:${iface.port}>`,
      fromTag: newTagValue(),
      to: `<${contact}>`,
      callId,
      cseq: 1,
    }),
  );
}
