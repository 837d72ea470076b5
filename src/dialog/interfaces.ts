import type { Flow, ListenSpec, TransportProto } from '../transport/types.js';
import { STAMP_PARAM } from '../proxy/dialog-stamp.js';
import { ListenerChoice, type SourceAddresses } from '../transport/listener-choice.js';
import { ipFamily, isWildcard, normalizeHost } from '../transport/addr.js';
import type { MediaAddress } from '../media/engine.js';

/** One of our SIP interfaces as written in Via, Record-Route and Contact. */
export interface SipInterface {
  readonly proto: TransportProto;
  /** Host as written in a URI or Via: IPv6 in brackets. */
  readonly host: string;
  readonly port: number;
  /** The media relay's address for call legs on this interface's side; absent: the engine's own. */
  readonly media?: MediaAddress;
}

/** A bound listener with what the config says about it (listen entries of the object form). */
export interface InterfaceListener extends ListenSpec {
  boundPort: number;
  /** Written in place of the listener's address (public address behind NAT). */
  advertise?: string;
  /** The media relay's address for legs on this listener's side. */
  media?: string;
}

export interface InterfacesOptions {
  /** The kernel's source addresses, shared with the transport layer so that both choose the same listener. */
  sources?: SourceAddresses | null;
  /**
   * Give each listener a media address of its own (its `media`, else its own
   * address) when the listeners are on more than one address; false keeps
   * every leg on the engine's address (`media.address` configured).
   */
  mediaPerListener?: boolean;
}

type Listener = InterfaceListener;

/**
 * Which of our addresses to write into Via, Record-Route and Contact: the
 * listener a request leaves from, chosen for its destination by the rule of
 * src/transport/listener-choice.ts (the one the transport sends with), or
 * the one it came in on. A listener's `advertise`, else the server-wide
 * `advertise`, replaces its address when behind NAT.
 */
export class Interfaces {
  private readonly listeners: Listener[];
  private readonly choice: ListenerChoice;
  /** The written interface of each listener, made once (every forwarded request asks for one). */
  private readonly cache = new Map<Listener, SipInterface>();
  private readonly mediaPerListener: boolean;

  constructor(
    listeners: Listener[],
    private readonly advertise: string | null,
    opts: InterfacesOptions = {},
  ) {
    this.listeners = listeners;
    this.choice = new ListenerChoice(listeners, opts.sources ?? null);
    this.mediaPerListener = (opts.mediaPerListener ?? false) && this.choice.multihomed;
  }

  /** Our interface for sending over `proto` toward `targetHost` (an IP); null when we do not listen on it. */
  forProto(proto: TransportProto, targetHost: string): SipInterface | null {
    const i = this.choice.choose(proto, normalizeHost(targetHost));
    return i < 0 ? null : this.of(this.listeners[i]!);
  }

  /**
   * Learns what choosing an interface toward these targets needs (the
   * kernel's source address toward each); null when nothing is to learn.
   * Await it before forProto() to have the kernel's answer for a new destination.
   */
  prepare(targets: ReadonlyArray<{ host: string }>): Promise<void> | null {
    if (!this.choice.multihomed || targets.length === 0) return null;
    return this.choice.prepare(targets.map((t) => normalizeHost(t.host)));
  }

  /** The interface a request arrived on. */
  forFlow(flow: Flow): SipInterface {
    // Listeners on several addresses may share a port: the local address decides (any, for a wildcard listener).
    for (const l of this.listeners) {
      if (
        l.proto === flow.proto &&
        l.boundPort === flow.localPort &&
        (l.host === flow.localHost || isWildcard(l.host) || normalizeHost(l.host) === flow.localHost)
      ) {
        return this.of(l);
      }
    }
    // An outgoing connection we opened: name the listener of that transport.
    return (
      this.forProto(flow.proto, flow.remoteHost) ??
      this.written(flow.proto, flow.localHost, flow.localPort, this.advertise, undefined)
    );
  }

  private of(l: Listener): SipInterface {
    let i = this.cache.get(l);
    if (i === undefined) {
      i = this.written(l.proto, l.host, l.boundPort, l.advertise ?? this.advertise, this.mediaOf(l));
      this.cache.set(l, i);
    }
    return i;
  }

  /** The relay's address on this listener's side: bound on its `media` (or its own address), written as its advertised IP. */
  private mediaOf(l: Listener): MediaAddress | undefined {
    if (!this.mediaPerListener && l.media === undefined) return undefined;
    const bind = l.media ?? (isWildcard(l.host) ? undefined : l.host);
    if (bind === undefined) return undefined;
    const adv = l.advertise;
    return { bind, sdp: adv !== undefined && ipFamily(adv) !== 0 ? adv : bind };
  }

  private written(
    proto: TransportProto,
    host: string,
    port: number,
    advertise: string | null | undefined,
    media: MediaAddress | undefined,
  ): SipInterface {
    const h = advertise ?? (host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host);
    return { proto, host: h.includes(':') ? `[${h}]` : h, port, ...(media !== undefined && { media }) };
  }
}

const RR_URIS = new WeakMap<SipInterface, string>();
const SENT_BYS = new WeakMap<SipInterface, string>();

/**
 * `sip:host:port;transport=tcp;lr`: the Record-Route URI of an interface
 * (RFC 3261 16.6 step 4); with `stamp`, `;dsig=STAMP` after it, the dialog's
 * stamp (src/proxy/dialog-stamp.ts) that in-dialog requests must bring back.
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
