/**
 * Steps 3 to 8 of the request pipeline, on a parsed and validated request,
 * before the transaction layer and the proxy (its transaction user) see it:
 *
 *  3. scanner user agent: dropped, no answer;
 *  4/5. an OPTIONS for the server itself without a user part and without a
 *     Route is answered 200 here (keep-alive; even at Max-Forwards 0, which
 *     RFC 3261 16.3 step 3 lets an element answering as a UAS accept); else
 *     Max-Forwards 0 is answered 483, and an absent Max-Forwards is added;
 *  6. sanity checks (400/416/420 with the reason);
 *  7. access lists (403);
 *  8. black/white lists and SQL-injection-like user parts (403).
 *
 * Refusals are answered statelessly (a retransmission is simply refused
 * again, which is cheaper than keeping a transaction for it); an ACK is
 * never answered. Every outcome has a counter `security_<step>_<outcome>`;
 * a refusal is logged once per source and step per minute.
 */
import type { SipMessage } from '../sip/message.js';
import { isSipUri, type SipUri, type Uri } from '../sip/uri.js';
import { SipSyntaxError } from '../sip/errors.js';
import type { Flow } from '../transport/types.js';
import type { Counters } from '../core/counters.js';
import type { Responder } from '../core/responder.js';
import { LogThrottle } from '../core/log-throttle.js';
import { ALLOWED_METHODS } from '../proxy/proxy.js';
import { ScannerFilter } from './scanners.js';
import { checkSanity, type SanityChecks } from './sanity.js';
import { AccessList } from './acl.js';
import { SecurityLists } from './lists.js';
import type { SecurityConfig } from './config.js';

export interface PipelineLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export type PipelineVerdict =
  | { kind: 'pass' }
  | { kind: 'drop'; step: string; reason: string }
  | { kind: 'reply'; step: string; status: number; reason: string; headers?: Array<[string, string]> };

const PASS: PipelineVerdict = { kind: 'pass' };

export interface PipelineOptions {
  config: SecurityConfig;
  /** A Request-URI naming this server (host and port ours), for the keep-alive answer. */
  isForUs: (uri: SipUri) => boolean;
  counters: Counters;
  responder: Responder;
  log: PipelineLog;
}

export class SecurityPipeline {
  private readonly scanners: ScannerFilter | null;
  private readonly sanity: SanityChecks | null;
  private acl = new AccessList([]);
  private lists: SecurityLists;
  private readonly throttle = new LogThrottle();
  /**
   * Top-Via branches of INVITEs refused here, until Timer H would have ended
   * a transaction (64*T1 = 32 s): the ACK for such a refusal is hop-by-hop
   * (RFC 3261 17.1.1.3) and ends here; without this it would reach the
   * proxy as a stray ACK and be relayed toward the Request-URI. Bounded.
   */
  private readonly refused = new Map<string, number>();

  constructor(private readonly o: PipelineOptions) {
    const c = o.config;
    this.scanners = c.scanners.enabled ? new ScannerFilter(c.scanners.userAgents) : null;
    this.sanity = c.sanity.enabled ? c.sanity.checks : null;
    this.lists = new SecurityLists([], c.lists.sqlInjection);
  }

  setAcl(acl: AccessList): void {
    this.acl = acl;
  }

  setLists(lists: SecurityLists): void {
    this.lists = lists;
  }

  /**
   * Applies the steps to a request: answers or drops it itself and returns
   * false, or returns true for the transaction layer to take it.
   */
  admit(req: SipMessage, flow: Flow): boolean {
    if (req.method === 'ACK' && this.refused.size > 0 && this.absorbAck(req)) return false;
    let v: PipelineVerdict;
    try {
      v = this.decide(req, flow.remoteHost);
    } catch (err) {
      if (!(err instanceof SipSyntaxError)) throw err;
      v = { kind: 'reply', step: 'sanity', status: 400, reason: err.reasonPhrase };
    }
    if (v.kind === 'pass') return true;
    this.o.counters.inc(`security_${v.step}_${v.kind === 'drop' ? 'dropped' : v.status}`);
    if (v.kind === 'reply' && v.status === 200) {
      this.o.responder.reply(req, flow, 200, { headers: v.headers ?? [] });
      return false;
    }
    const held = this.throttle.admit(`${flow.remoteHost}|${v.step}`);
    if (held >= 0) {
      this.o.log.warn(
        {
          mod: 'security',
          source: `${flow.proto}:${flow.remoteHost}:${flow.remotePort}`,
          step: v.step,
          reason: v.reason,
          ...(v.kind === 'reply' ? { status: v.status } : {}),
          method: req.method,
          suppressedBefore: held,
        },
        v.kind === 'drop' ? 'request dropped' : 'request refused',
      );
    }
    if (v.kind === 'reply' && req.method !== 'ACK') {
      this.o.responder.reply(req, flow, v.status, { reason: v.reason, ...(v.headers ? { headers: v.headers } : {}) });
      if (req.method === 'INVITE') this.rememberRefusal(req);
    }
    return false;
  }

  private rememberRefusal(req: SipMessage): void {
    const branch = req.topVia.branch;
    if (branch === null || branch === undefined) return;
    if (this.refused.size >= 10_000) {
      const now = Date.now();
      for (const [b, until] of this.refused) if (until <= now) this.refused.delete(b);
      if (this.refused.size >= 10_000) this.refused.clear();
    }
    this.refused.set(branch, Date.now() + 32_000);
  }

  /** The ACK of an INVITE refused here: counted and dropped. */
  private absorbAck(req: SipMessage): boolean {
    const branch = req.topVia.branch;
    if (branch === null || branch === undefined) return false;
    const until = this.refused.get(branch);
    if (until === undefined) return false;
    // Kept until it expires: a retransmitted refusal brings a retransmitted ACK.
    if (until <= Date.now()) {
      this.refused.delete(branch);
      return false;
    }
    this.o.counters.inc('security_acks_absorbed');
    return true;
  }

  /** The decision alone (no answer sent, no counter): for tests and the bench. */
  decide(req: SipMessage, ip: string): PipelineVerdict {
    const c = this.o.config;
    // 3. Scanners.
    if (this.scanners !== null) {
      const hit = this.scanners.match(req);
      if (hit !== null) return { kind: 'drop', step: 'scanner', reason: `user agent matches ${hit}` };
    }
    const uri: Uri = req.requestUriParsed;
    // 5. Keep-alive OPTIONS to ourselves.
    if (
      c.keepAlive.enabled &&
      req.method === 'OPTIONS' &&
      isSipUri(uri) &&
      uri.user === null &&
      !req.has('Route') &&
      this.o.isForUs(uri)
    ) {
      return {
        kind: 'reply',
        step: 'keepalive',
        status: 200,
        reason: 'OK',
        headers: [
          ['Allow', ALLOWED_METHODS],
          ['Accept', 'application/sdp'],
          ['Supported', 'path, outbound'],
        ],
      };
    }
    // 4. Max-Forwards (RFC 3261 16.3 step 3; 16.6 step 3 adds it when absent).
    if (c.maxForwards.enabled) {
      const mf = req.maxForwards;
      if (mf === 0) return { kind: 'reply', step: 'maxforwards', status: 483, reason: 'Too Many Hops' };
      if (mf === null) req.setHeader('Max-Forwards', String(c.maxForwards.add));
    }
    // 6. Sanity.
    if (this.sanity !== null) {
      const f = checkSanity(req, this.sanity, uri);
      if (f !== null)
        return {
          kind: 'reply',
          step: 'sanity',
          status: f.status,
          reason: f.reason,
          ...(f.headers ? { headers: f.headers } : {}),
        };
    }
    // 7. Access lists (the direction is the trunking stage's to know).
    if (c.acl.enabled && this.acl.size > 0) {
      const a = this.acl.decide(ip, req.method, null);
      if (!a.allowed) return { kind: 'reply', step: 'acl', status: 403, reason: 'Forbidden' };
    }
    // 8. Lists and SQL injection.
    if (c.lists.enabled) {
      const l = this.lists.check(req, ip, uri);
      if (l !== null)
        return { kind: 'reply', step: l.kind === 'sqli' ? 'sqli' : 'lists', status: 403, reason: 'Forbidden' };
    }
    return PASS;
  }
}
