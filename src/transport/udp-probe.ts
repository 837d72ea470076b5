/**
 * Is anyone listening on that UDP port? A datagram sent from the SIP
 * listener (an unconnected socket) never learns it: Linux reports an ICMP
 * port unreachable only to a connected socket (or with IP_RECVERR, which
 * node cannot set). So a probe sends a CRLF keep-alive ("\r\n\r\n", which
 * SIP servers ignore, RFC 5626 3.5.1) from a connected socket of its own,
 * bound to the listener's address, and reports the ECONNREFUSED the kernel
 * raises when the ICMP comes back: the port is closed on that host, so the
 * request sent there will never be answered.
 *
 * A probe ends at the first of: the refusal, `cancel()` (the request got
 * an answer), or `waitMs` (nothing came back: no news, the request's own
 * timers decide). At most `max` probes are open at once; beyond that none
 * is sent (and the caller falls back to its timers).
 */
import * as dgram from 'node:dgram';
import { isIP } from 'node:net';
import { TransportError } from './transport-error.js';

const PING = Buffer.from('\r\n\r\n', 'latin1');

export interface UdpProbeOptions {
  /** The address to send from, per family (the UDP listener's); undefined: the kernel picks. */
  localAddress(family: 4 | 6): string | undefined;
  /** How long a probe waits for the ICMP answer (default 2000 ms). */
  waitMs?: number;
  /** Probes open at once, at most (default 256). */
  max?: number;
  /** A target that answered this recently (ms) is listening: not probed again (default 2000). */
  freshMs?: number;
  /** The clock (default Date.now). */
  now?: () => number;
}

/** Ends a probe; `answered`: the request got an answer from the target (it listens). */
export type ProbeCancel = (answered?: boolean) => void;

/** Targets remembered as having answered, at most (then forgotten all at once). */
const MAX_ANSWERED = 4096;

export class UdpProbes {
  readonly #opts: UdpProbeOptions;
  readonly #waitMs: number;
  readonly #max: number;
  readonly #freshMs: number;
  readonly #now: () => number;
  /** `host port` -> when it last answered a probed request. */
  readonly #answered = new Map<string, number>();
  #open = 0;
  /**
   * Probes sent, ports found closed, probes not sent (too many open, a socket
   * error), probes not needed (the target answered within freshMs).
   */
  readonly stats = { sent: 0, refused: 0, skipped: 0, fresh: 0 };

  constructor(opts: UdpProbeOptions) {
    this.#opts = opts;
    this.#waitMs = opts.waitMs ?? 2000;
    this.#max = opts.max ?? 256;
    this.#freshMs = opts.freshMs ?? 2000;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * Probes host:port (an IP literal); `onRefused` runs once if the port is
   * closed, with a TransportError 'connect-refused'. Returns a cancel function.
   * A target that answered within freshMs is not probed: a socket per call to
   * a busy gateway would only hear what its answers already say.
   */
  probe(host: string, port: number, onRefused: (err: TransportError) => void): ProbeCancel {
    const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    const key = `${bare} ${port}`;
    const answeredAt = this.#answered.get(key);
    if (answeredAt !== undefined && this.#now() - answeredAt < this.#freshMs) {
      this.stats.fresh++;
      return this.#onAnswer(key);
    }
    const family = isIP(bare);
    if ((family !== 4 && family !== 6) || this.#open >= this.#max) {
      this.stats.skipped++;
      return NOTHING;
    }
    let socket: dgram.Socket;
    try {
      socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    } catch {
      // No socket to spare (EMFILE): a probe is an extra, skipped and counted.
      this.stats.skipped++;
      return NOTHING;
    }
    this.#open++;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (done) return;
      done = true;
      this.#open--;
      clearTimeout(timer);
      try {
        socket.close();
      } catch {
        // already closed
      }
    };
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const refused = err.code === 'ECONNREFUSED' && !done;
      finish();
      if (refused) {
        this.stats.refused++;
        onRefused(TransportError.of(err, { proto: 'udp', host: bare, port }));
      }
    });
    socket.on('message', () => undefined); // a pong, if any: not news
    const local = this.#opts.localAddress(family);
    const connect = (): void => {
      socket.connect(port, bare, () => {
        if (done) return;
        this.stats.sent++;
        socket.send(PING);
        timer = setTimeout(finish, this.#waitMs);
        timer.unref();
      });
    };
    try {
      if (local !== undefined && local !== '0.0.0.0' && local !== '::')
        socket.bind({ address: local, port: 0, exclusive: true }, connect);
      else connect();
    } catch {
      // The local address is gone (EADDRNOTAVAIL): skipped and counted, like no socket.
      finish();
      this.stats.skipped++;
      return NOTHING;
    }
    socket.unref();
    const onAnswer = this.#onAnswer(key);
    return (answered) => {
      finish();
      onAnswer(answered);
    };
  }

  /** The cancel of a probe of `key`: an answer is remembered. */
  #onAnswer(key: string): ProbeCancel {
    return (answered) => {
      if (answered !== true) return;
      if (this.#answered.size >= MAX_ANSWERED) this.#answered.clear();
      this.#answered.set(key, this.#now());
    };
  }
}

const NOTHING: ProbeCancel = () => undefined;

/**
 * The `probeUdp` a B2BUA env takes: probes sent from the address of the
 * first UDP listener of the target's family.
 */
export function udpProbesFor(
  listeners: ReadonlyArray<{ proto: string; host: string }>,
  opts: { waitMs?: number; max?: number; freshMs?: number } = {},
): (target: { host: string; port: number }, onRefused: (err: TransportError) => void) => ProbeCancel {
  const hostOf = (family: 4 | 6): string | undefined =>
    listeners.find((l) => l.proto === 'udp' && isIP(l.host) === family)?.host;
  const probes = new UdpProbes({ localAddress: hostOf, ...opts });
  return (target, onRefused) => probes.probe(target.host, target.port, onRefused);
}
