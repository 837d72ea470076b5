import type { SipMessage } from '../sip/message.js';
import { isSipUri, formatUri, type Uri, type SipUri } from '../sip/uri.js';
import { parseNameAddr } from '../sip/name-addr.js';
import { firstListElement } from '../sip/fast-scan.js';
import { STAMP_PARAM } from './dialog-stamp.js';
import { FLOW_PARAM } from './flow-token.js';

export type IsOurs = (host: string, port: number | null) => boolean;

/**
 * What preprocessRoutes took off as ours: how many entries, the stamp
 * (dialog-stamp.ts) of the first that carried one, and the flow token
 * (flow-token.ts) of the first that carried one. One per proxy, reset per
 * request, so that no object is made per message.
 */
export class RouteScan {
  ours = 0;
  stamp: string | null = null;
  flow: string | null = null;

  reset(): this {
    this.ours = 0;
    this.stamp = null;
    this.flow = null;
    return this;
  }

  /** @internal An entry of ours came off. */
  took(uri: SipUri): void {
    this.ours++;
    if (this.stamp === null) {
      const s = uri.params.get(STAMP_PARAM);
      if (typeof s === 'string') this.stamp = s;
    }
    if (this.flow === null) {
      const f = uri.params.get(FLOW_PARAM);
      if (typeof f === 'string') this.flow = f;
    }
  }
}

/**
 * RFC 3261 16.4 route information preprocessing. A strict router before us
 * put our Record-Route URI in the Request-URI: the real one is the last
 * Route value. Then every Route value at the top naming us is removed (two
 * of them when we double record-routed). Returns the Request-URI to use;
 * `scan`, when given, learns what was taken off as ours.
 */
export function preprocessRoutes(req: SipMessage, isOurs: IsOurs, scan: RouteScan | null = null): Uri {
  let uri = req.requestUriParsed;
  // Our Record-Route URIs have no user part and carry lr: that in the Request-URI is a strict router's doing.
  if (isSipUri(uri) && uri.user === null && uri.params.has('lr') && isOurs(uri.host, uri.port) && req.has('Route')) {
    const routes = req.getAll('Route');
    const lastUri = parseNameAddr(routes[routes.length - 1]!, 'Route').uri;
    req.requestUri = formatUri(lastUri);
    removeLastRoute(req, routes);
    scan?.took(uri);
    uri = lastUri;
  }
  for (;;) {
    const f = req.field('Route');
    if (f === undefined) break;
    const top = parseNameAddr(firstListElement(f.value), 'Route').uri;
    if (!isSipUri(top) || !isOurs(top.host, top.port)) break;
    req.removeFirstValue('Route');
    scan?.took(top);
  }
  return uri;
}

function removeLastRoute(req: SipMessage, routes: string[]): void {
  req.removeHeader('Route');
  for (let i = 0; i < routes.length - 1; i++) req.appendHeader('Route', routes[i]!);
}

/**
 * Where the request goes next (16.6 steps 6-7): the top Route when there is
 * one; a strict router there (no lr) gets the Request-URI as the last Route
 * and becomes the Request-URI itself. Else the Request-URI.
 */
export function nextHopUri(req: SipMessage): SipUri | null {
  const f = req.field('Route');
  if (f !== undefined) {
    const top = parseNameAddr(firstListElement(f.value), 'Route').uri;
    if (!isSipUri(top)) return null;
    if (!top.params.has('lr')) {
      // 16.6 step 6: strict-router compatibility.
      req.appendHeader('Route', `<${req.requestUri}>`);
      req.removeFirstValue('Route');
      req.requestUri = formatUri(top);
    }
    return top;
  }
  const uri = req.requestUriParsed;
  return isSipUri(uri) ? uri : null;
}
