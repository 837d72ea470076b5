/**
 * The location stage (RFC 3261 16.5 with the registrar's bindings): a
 * Request-URI user@domain of a local domain, or an alias of a subscriber
 * (store.aliases.resolve, exact entry else longest prefix), to the targets
 * of its live bindings. Each target keeps the contact as the branch's
 * Request-URI; the next hop is the Path (RFC 3327) when the binding has one,
 * else the received address (NAT), else the contact itself.
 *
 * In a cluster a binding whose flow another node holds (a connection, a
 * NAT mapping: the store's holdsFlow) is reached through that node, and
 * one whose node is gone is no target (FlowHolders, src/registrar/cluster-flows.ts).
 */
import { isSipUri, parseUri, unescapeUriPart, type SipUri, type Uri } from '../sip/uri.js';
import { parseNameAddr } from '../sip/name-addr.js';
import { SipSyntaxError, parsedOrNull } from '../sip/errors.js';
import type { LocationBinding, Store } from '../store/index.js';

/** One branch of the fork: the Request-URI to write, the next hop, Route headers to preload. */
export interface LocationTarget {
  requestUri: string;
  hop: SipUri;
  /** Route values (the binding's Path), outermost first; empty when none. */
  routes: string[];
  /** The branch's status when its hop cannot be reached (a cluster node: 480), else the proxy's 503/408. */
  unreachable?: number;
}

/** In a cluster: which node holds a binding's flow. */
export interface FlowHolders {
  /**
   * How a binding is reached: `here` (from this node, as alone), a target
   * through the node that holds its flow, or `none` (that node's run ended:
   * the binding is dropped; or its address is not known).
   */
  reach(b: LocationBinding): Promise<'here' | 'none' | LocationTarget>;
}

export type LocationResult =
  | { kind: 'not-local' }
  | { kind: 'unknown' }
  | { kind: 'offline'; aor: string }
  | { kind: 'found'; aor: string; targets: LocationTarget[] };

export class Location {
  constructor(
    private readonly store: Store,
    private readonly holders: FlowHolders | null = null,
  ) {}

  async lookup(uri: Uri): Promise<LocationResult> {
    if (!isSipUri(uri)) return { kind: 'not-local' };
    if (!(await this.store.domains.exists(uri.host))) return { kind: 'not-local' };
    const escaped = uri.user;
    if (escaped === null) return { kind: 'unknown' };
    const user = parsedOrNull(() => unescapeUriPart(escaped));
    if (user === null) return { kind: 'unknown' };
    let aor: string;
    if ((await this.store.subscribers.get(user, uri.host)) !== undefined) {
      aor = `${user}@${uri.host}`;
    } else {
      const alias = await this.store.aliases.resolve(user);
      if (alias === undefined) return { kind: 'unknown' };
      aor = `${alias.username}@${alias.domain}`;
    }
    const bindings = await this.store.location.listForAor(aor);
    const targets: LocationTarget[] = [];
    for (const b of bindings) {
      const reach = this.holders === null ? 'here' : await this.holders.reach(b);
      const t = reach === 'here' ? toTarget(b.contact, b.received, b.path) : reach === 'none' ? null : reach;
      if (t !== null) targets.push(t);
    }
    if (targets.length === 0) return { kind: 'offline', aor };
    return { kind: 'found', aor, targets };
  }
}

/** The target of a binding reached from here: by its Path, else its received address, else its contact; null when unusable. */
export function toTarget(contact: string, received: string | null, path: string[]): LocationTarget | null {
  try {
    const c = parseUri(contact);
    if (!isSipUri(c)) return null;
    if (path.length > 0) {
      const first = parseNameAddr(path[0]!, 'Path').uri;
      if (isSipUri(first)) return { requestUri: contact, hop: first, routes: [...path] };
    }
    if (received !== null) {
      const r = parseUri(received);
      if (isSipUri(r)) return { requestUri: contact, hop: r, routes: [] };
    }
    return { requestUri: contact, hop: c, routes: [] };
  } catch (err) {
    if (err instanceof SipSyntaxError) return null;
    throw err;
  }
}
