import type { SipMessage } from '../sip/message.js';
import { serialize } from '../sip/serializer.js';
import type { SipUri } from '../sip/uri.js';
import type { Via } from '../sip/via.js';
import type { Flow, TransportProto } from '../transport/types.js';
import type { Target, TransactionTransport } from '../transaction/types.js';
import { statelessBranch } from './branch.js';
import { viaSentBy, type Interfaces } from '../dialog/interfaces.js';
import type { ProxyEnv } from './proxy-env.js';

const VIA_PROTOS: Record<string, TransportProto> = { UDP: 'udp', TCP: 'tcp', TLS: 'tls', WS: 'ws', WSS: 'wss' };

/**
 * Stateless forwarding (RFC 3261 16.11): requests that need no transaction
 * (an ACK for a 2xx, a route marked stateless) and responses that match no
 * transaction (16.7 / 18.1.2: a 2xx retransmitted after ours ended).
 */
export class StatelessForwarder {
  constructor(
    private readonly env: ProxyEnv,
    private readonly interfaces: Interfaces,
  ) {}

  /** Forwards a request to its next hop without a transaction; MF and a deterministic Via branch. */
  async forwardRequest(req: SipMessage, hop: SipUri): Promise<boolean> {
    let targets: Target[];
    try {
      targets = await this.env.locate(hop);
    } catch {
      // An unresolvable next hop (a stray ACK for any domain, say) costs a counter, never the process.
      targets = [];
    }
    const ready = this.interfaces.prepare(targets);
    if (ready !== null) await ready;
    // 16.6 step 3, once whatever the number of targets tried.
    const mf = req.maxForwards;
    for (const target of targets) {
      // RFC 3261 16.5: one of our own sockets is us; a request sent there would come back until Max-Forwards ran out.
      if (this.env.isOurs(target.host, target.port)) {
        this.env.counters.inc('proxy_next_hop_self');
        continue;
      }
      const out = this.interfaces.forProto(target.proto, target.host);
      if (out === null) continue;
      req.setHeader('Max-Forwards', String(mf === null ? 70 : mf - 1));
      req.prependHeader('Via', `${viaSentBy(out)};branch=${statelessBranch(req)}`);
      try {
        const bytes = serialize(req);
        // UDP goes out at once (no promise); a stream transport may have to connect first.
        if (this.sendNow(target, bytes) === null) await this.env.transport.sendTo(target, bytes);
        this.env.counters.inc('proxy_stateless_requests');
        return true;
      } catch {
        // This target cannot be reached (connect refused...): the next one is tried.
        req.removeFirstValue('Via');
        continue;
      }
    }
    this.env.counters.inc('proxy_stateless_unsendable');
    return false;
  }

  /** TransactionTransport.sendToNow when the transport has it: the flow, or null to use sendTo(). */
  private sendNow(target: Target, bytes: Buffer): Flow | null {
    const t = this.env.transport as ProxyEnv['transport'] & Partial<Pick<TransactionTransport, 'sendToNow'>>;
    return t.sendToNow === undefined ? null : t.sendToNow(target, bytes);
  }

  /**
   * A response whose top Via is ours goes to the next Via (18.2.2 with RFC
   * 3581: received and rport when the client gave them). Anything else is
   * dropped: we never relay responses we did not route.
   */
  forwardResponse(res: SipMessage, _flow: Flow): void {
    const vias = res.vias;
    const top = vias[0];
    if (top === undefined || !this.env.isOurs(top.host, top.port) || vias.length < 2) {
      this.env.counters.inc('proxy_stray_responses_dropped');
      return;
    }
    res.removeFirstValue('Via');
    const target = responseTarget(vias[1]!);
    if (target === null) {
      this.env.counters.inc('proxy_stray_responses_dropped');
      return;
    }
    const bytes = serialize(res);
    let now: Flow | null;
    try {
      now = this.sendNow(target, bytes);
    } catch {
      this.env.counters.inc('proxy_stray_responses_unsendable');
      return;
    }
    if (now !== null) {
      this.env.counters.inc('proxy_stray_responses_forwarded');
      return;
    }
    this.env.transport.sendTo(target, bytes).then(
      () => this.env.counters.inc('proxy_stray_responses_forwarded'),
      () => this.env.counters.inc('proxy_stray_responses_unsendable'),
    );
  }
}

/** Where a response to this Via goes: received/rport when present, else sent-by (RFC 3261 18.2.2, RFC 3581 4). */
export function responseTarget(via: Via): Target | null {
  const proto = VIA_PROTOS[via.transport];
  if (proto === undefined) return null;
  const received = via.params.get('received');
  const rport = via.params.get('rport');
  const host = typeof received === 'string' && received.length > 0 ? received : unbracket(via.host);
  const rp = typeof rport === 'string' ? Number(rport) : NaN;
  const port =
    Number.isInteger(rp) && rp > 0 && rp < 65536
      ? rp
      : (via.port ?? (proto === 'tls' || proto === 'wss' ? 5061 : 5060));
  return { proto, host, port };
}

function unbracket(host: string): string {
  return host.charCodeAt(0) === 91 ? host.slice(1, -1) : host;
}
