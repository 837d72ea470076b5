import type { RouteConfig, RouteStage } from '../config/schema.js';
import type { SipMessage } from '../sip/message.js';
import { isSipUri, type Uri } from '../sip/uri.js';
import { AddressSet } from '../net/cidr.js';

/** What the routing table says to do with an initial request. */
export type RouteDecision =
  | { kind: 'forward'; targets: string[]; mode: 'parallel' | 'serial'; stateless: boolean; index: number }
  | { kind: 'reply'; status: number; index: number }
  | { kind: 'stage'; stage: RouteStage; index: number }
  | { kind: 'none' };

interface CompiledRoute {
  index: number;
  method: string | null;
  user: RegExp | null;
  host: RegExp | null;
  source: AddressSet | null;
  config: RouteConfig;
}

/**
 * The `routes:` table of the config, compiled once (regexes, CIDRs): rules
 * are tried in order and the first whose every given condition matches acts
 * (README.md, Routes). A new Router is built on reload and swapped in whole, so a
 * call in progress never sees half a table.
 */
export class Router {
  private readonly routes: CompiledRoute[];

  constructor(routes: RouteConfig[]) {
    this.routes = routes.map((config, index) => ({
      index,
      method: config.match.method ?? null,
      user: config.match.user !== undefined ? new RegExp(config.match.user) : null,
      host: config.match.host !== undefined ? new RegExp(config.match.host, 'i') : null,
      source: config.match.source !== undefined ? new AddressSet([config.match.source]) : null,
      config,
    }));
  }

  get size(): number {
    return this.routes.length;
  }

  decide(req: SipMessage, uri: Uri, sourceIp: string): RouteDecision {
    for (const r of this.routes) {
      const c = r.config;
      // A rule with only trustRoute has no action: it does not stop the search.
      if (c.forward === undefined && c.reply === undefined && c.then === undefined) continue;
      if (!matches(r, req, uri, sourceIp)) continue;
      if (c.forward !== undefined)
        return { kind: 'forward', targets: c.forward, mode: c.mode, stateless: c.stateless, index: r.index };
      if (c.reply !== undefined) return { kind: 'reply', status: c.reply, index: r.index };
      if (c.then !== undefined) return { kind: 'stage', stage: c.then, index: r.index };
    }
    return { kind: 'none' };
  }

  /** Whether a rule with `trustRoute: true` matches: this initial request may bring a Route set naming other hosts. */
  trustsRoute(req: SipMessage, uri: Uri, sourceIp: string): boolean {
    for (const r of this.routes) if (r.config.trustRoute === true && matches(r, req, uri, sourceIp)) return true;
    return false;
  }
}

function matches(r: CompiledRoute, req: SipMessage, uri: Uri, sourceIp: string): boolean {
  if (r.method !== null && r.method !== req.method) return false;
  if (r.user !== null || r.host !== null) {
    const { user, host } = userAndHost(uri);
    if (r.user !== null && !r.user.test(user)) return false;
    if (r.host !== null && !r.host.test(host)) return false;
  }
  return r.source === null || r.source.has(sourceIp);
}

/** User and host of a Request-URI for matching: sip(s) user@host, tel number, else the opaque part. */
function userAndHost(uri: Uri): { user: string; host: string } {
  if (isSipUri(uri)) return { user: uri.user ?? '', host: uri.host };
  if (uri.scheme === 'tel' && 'number' in uri) return { user: uri.number, host: '' };
  return { user: '', host: '' };
}
