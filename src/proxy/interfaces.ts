import type { Flow, ListenSpec, TransportProto } from '../transport/types.js';
import { STAMP_PARAM } from './dialog-stamp.js';

/** One of our SIP interfaces as written in Via, Record-Route and Contact. */
export interface SipInterface {
  readonly proto: TransportProto;
  /** Host as written in a URI or Via: IPv6 in brackets. */
  readonly host: string;
  readonly port: number;
}

/**
 * Which of our addresses to write into Via and Record-Route: the listener of
 * the transport a request leaves on (same address family as the target), or
 * the one it came in on; `advertise` replaces the host when behind NAT.
 */
export class Interfaces {
  private readonly listeners: Array<ListenSpec & { boundPort: number }>;
  /** The written interface of each listener, made once (every forwarded request asks for one). */
  private readonly cache = new Map<ListenSpec & { boundPort: number }, SipInterface>();

  constructor(
    listeners: Array<ListenSpec & { boundPort: number }>,
    private readonly advertise: string | null,
  ) {
    this.listeners = listeners;
  }

  /** Our interface for sending over `proto` toward an address of that family; null when we do not listen on it. */
  forProto(proto: TransportProto, targetHost: string): SipInterface | null {
    const v6 = targetHost.includes(':');
    let fallback: (ListenSpec & { boundPort: number }) | null = null;
    for (const l of this.listeners) {
      if (l.proto !== proto) continue;
      if (l.host.includes(':') === v6) return this.of(l);
      fallback ??= l;
    }
    return fallback === null ? null : this.of(fallback);
  }

  /** The interface a request arrived on. */
  forFlow(flow: Flow): SipInterface {
    for (const l of this.listeners) if (l.proto === flow.proto && l.boundPort === flow.localPort) return this.of(l);
    // An outgoing connection we opened: name the listener of that transport.
    return this.forProto(flow.proto, flow.remoteHost) ?? this.written(flow.proto, flow.localHost, flow.localPort);
  }

  private of(l: ListenSpec & { boundPort: number }): SipInterface {
    let i = this.cache.get(l);
    if (i === undefined) {
      i = this.written(l.proto, l.host, l.boundPort);
      this.cache.set(l, i);
    }
    return i;
  }

  private written(proto: TransportProto, host: string, port: number): SipInterface {
    const h = this.advertise ?? (host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host);
    return { proto, host: h.includes(':') ? `[${h}]` : h, port };
  }
}

const RR_URIS = new WeakMap<SipInterface, string>();
const SENT_BYS = new WeakMap<SipInterface, string>();

/**
 * `sip:host:port;transport=tcp;lr`: the Record-Route URI of an interface
 * (RFC 3261 16.6 step 4); with `stamp`, `;dsig=STAMP` after it, the dialog's
 * stamp (dialog-stamp.ts) that in-dialog requests must bring back.
 */
export function recordRouteUri(i: SipInterface, stamp: string | null = null): string {
  let s = RR_URIS.get(i);
  if (s === undefined) {
    const transport = i.proto === 'udp' ? '' : `;transport=${i.proto}`;
    s = `sip:${i.host}:${i.port}${transport};lr`;
    RR_URIS.set(i, s);
  }
  return stamp === null ? s : `${s};${STAMP_PARAM}=${stamp}`;
}

/** `SIP/2.0/UDP host:port` without parameters: the start of a Via we add. */
export function viaSentBy(i: SipInterface): string {
  let s = SENT_BYS.get(i);
  if (s === undefined) {
    s = `SIP/2.0/${i.proto.toUpperCase()} ${i.host}:${i.port}`;
    SENT_BYS.set(i, s);
  }
  return s;
}
