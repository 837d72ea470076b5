/**
 * SIP over UDP: the listening sockets, datagrams in (CRLF and STUN
 * keep-alives dropped), datagrams out from the listener matching a flow or
 * from the one chosen for the destination (listener-choice.ts).
 */
import dns from 'node:dns';
import * as dgram from 'node:dgram';
import { hostPort, ipFamily, isPlainIpv4, normalizeHost, specName } from './addr.js';
import { isBlank, isStunRequest } from './keepalive-bytes.js';
import type { ListenerChoice } from './listener-choice.js';
import { deliver, type TransportContext } from './transport-context.js';
import { TransportError } from './transport-error.js';
import type { Flow, ListenSpec } from './types.js';

/** A bound listener of any transport, as listener choice sees it. */
export interface BoundListener {
  readonly spec: ListenSpec;
  /** The spec's host, normalized. */
  readonly host: string;
  /** The bound port (the spec's, or the ephemeral one for port 0). */
  readonly port: number;
  readonly family: 4 | 6;
}

export interface UdpListener extends BoundListener {
  readonly socket: dgram.Socket;
}

const UDP_RECV_BUFFER = 4 * 1024 * 1024;

/**
 * dgram's address lookup for our sends: every UDP destination here is already
 * an IP literal, so answer at once instead of through dns.lookup and a tick.
 */
function literalLookup(
  address: string,
  family: unknown,
  callback: (err: Error | null, address: string, family: number) => void,
): void {
  const opts = typeof family === 'object' && family !== null ? (family as { family?: number }) : null;
  const fam = isPlainIpv4(address) ? 4 : ipFamily(address);
  if (fam === 0) {
    dns.lookup(address, opts?.family ?? (typeof family === 'number' ? family : 0), callback as never);
    return;
  }
  callback(null, address, fam);
}

export class UdpTransport {
  readonly listeners: UdpListener[] = [];
  /** Listener choice over every bound listener (`chosen`), set once all are bound. */
  private choice: ListenerChoice | null = null;
  private chosen: readonly BoundListener[] = [];

  constructor(private readonly ctx: TransportContext) {}

  bind(spec: ListenSpec): Promise<void> {
    const family = ipFamily(spec.host) as 4 | 6;
    const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', lookup: literalLookup });
    return new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        try {
          socket.close();
        } catch {
          /* not running */
        }
        reject(err);
      };
      socket.once('error', onError);
      socket.bind({ port: spec.port, address: spec.host, exclusive: true }, () => {
        socket.off('error', onError);
        socket.on('error', (err) =>
          this.ctx.log.warn({ listen: specName(spec), err: err.message }, 'udp socket error'),
        );
        try {
          socket.setRecvBufferSize(UDP_RECV_BUFFER);
        } catch (err) {
          this.ctx.log.debug(
            { listen: specName(spec), err: (err as Error).message },
            'cannot enlarge udp receive buffer',
          );
        }
        const l: UdpListener = { spec, host: normalizeHost(spec.host), port: socket.address().port, family, socket };
        socket.on('message', (msg, rinfo) => this.onDatagram(l, msg, rinfo));
        this.listeners.push(l);
        resolve();
      });
    });
  }

  /** Which listener a datagram toward a destination leaves from: `choice` indexes `chosen`. */
  useChoice(choice: ListenerChoice, chosen: readonly BoundListener[]): void {
    this.choice = choice;
    this.chosen = chosen;
  }

  private onDatagram(l: UdpListener, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (isBlank(msg)) return; // CRLF keep-alive
    if (isStunRequest(msg)) return; // RFC 5626 STUN keep-alive: not handled here
    deliver(this.ctx, {
      data: msg,
      flow: {
        proto: 'udp',
        localHost: l.host,
        localPort: l.port,
        remoteHost: normalizeHost(rinfo.address),
        remotePort: rinfo.port,
        connectionId: null,
      },
    });
  }

  /** Along a flow: from the listener of its local address. False without one. */
  sendOnFlow(flow: Flow, data: Buffer): boolean {
    // Flows we made carry the listener's own host string: compare as is first (hot path), normalize only if that fails.
    let l: UdpListener | undefined;
    for (const u of this.listeners) {
      if (u.port === flow.localPort && u.host === flow.localHost) {
        l = u;
        break;
      }
    }
    if (!l) {
      const host = normalizeHost(flow.localHost);
      l = this.listeners.find((u) => u.port === flow.localPort && u.host === host);
    }
    if (!l) return false;
    return this.sendDatagram(l, flow.remoteHost, flow.remotePort, data);
  }

  /** To an IP literal, from the listener chosen for it. The flow used; throws a TransportError. */
  sendTo(host: string, port: number, data: Buffer): Flow {
    // Plain dotted IPv4 (the common case) needs no normalizing or isIP regex.
    const plain = isPlainIpv4(host);
    const remoteHost = plain ? host : normalizeHost(host);
    const family = plain ? 4 : ipFamily(remoteHost);
    if (family === 0)
      throw new TransportError('bad-target', { proto: 'udp', host, port }, 'udp destination must be an IP literal');
    const l = this.listenerFor(remoteHost, family);
    if (!l) throw new TransportError('no-listener', { proto: 'udp', host, port }, `no udp listener for IPv${family}`);
    // UDP has no delivery report worth waiting for: a datagram handed to the socket counts as sent.
    if (!this.sendDatagram(l, remoteHost, port, data))
      throw new TransportError('closed', { proto: 'udp', host, port }, 'udp socket not running');
    return { proto: 'udp', localHost: l.host, localPort: l.port, remoteHost, remotePort: port, connectionId: null };
  }

  private listenerFor(dest: string, family: 4 | 6): UdpListener | undefined {
    if (this.listeners.length === 1) {
      // One UDP listener (the common case): no choice to make.
      const only = this.listeners[0]!;
      return only.family === family ? only : undefined;
    }
    const i = this.choice === null ? -1 : this.choice.choose('udp', dest);
    const c = i >= 0 ? (this.chosen[i] as UdpListener) : undefined;
    return c !== undefined && c.family === family ? c : undefined;
  }

  /**
   * Hands a datagram to the socket. Without a completion callback Node sends
   * it synchronously with no request object and no callback back into JS;
   * a failure then surfaces as the socket's 'error' event (logged).
   */
  private sendDatagram(l: UdpListener, host: string, port: number, data: Buffer): boolean {
    const tap = this.ctx.tap;
    if (tap !== null)
      tap('out', data, {
        proto: 'udp',
        localHost: l.host,
        localPort: l.port,
        remoteHost: host,
        remotePort: port,
        connectionId: null,
      });
    try {
      l.socket.send(data, port, host);
      return true;
    } catch (err) {
      this.ctx.log.debug({ to: hostPort(host, port), err: (err as Error).message }, 'udp send failed');
      return false;
    }
  }

  /** Closes every socket. */
  close(): Promise<void> {
    const waits = this.listeners.map(
      (l) =>
        new Promise<void>((resolve) => {
          try {
            l.socket.close(() => resolve());
          } catch {
            resolve(); // not running (ERR_SOCKET_DGRAM_NOT_RUNNING): nothing to wait for
          }
        }),
    );
    return Promise.all(waits).then(() => {
      this.listeners.length = 0;
    });
  }
}
