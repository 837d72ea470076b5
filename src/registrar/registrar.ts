/**
 * The registrar (RFC 3261 10.3), with the basics of RFC 5626 (a binding per
 * +sip.instance / reg-id flow, both echoed back) and RFC 3327 (Path kept with
 * the binding and echoed to a UA that supports it).
 *
 * For a REGISTER whose Request-URI host is a local domain (a row in the
 * store's domains; the server's own addresses count only if such a row
 * exists), in order:
 *  1. digest authentication with realm = the domain (401 and a fresh
 *     challenge; stale=true for an expired nonce; an unknown user and a wrong
 *     password get the same answer, see src/auth/digest.ts);
 *  2. the To URI must be the authenticated user at the domain (403);
 *  3. `Contact: *` only alone and with Expires: 0 (400);
 *  4. per contact: expires from its parameter, else the Expires header,
 *     else `defaultExpires`; below `minExpires` and not 0: 423 with
 *     Min-Expires; above `maxExpires`: lowered to it (10.3 step 7);
 *  5. one all-or-nothing store write; an out-of-order Call-ID/CSeq (10.3
 *     step 7: "the update MUST be aborted and the request fails") is
 *     answered 400 "Out of Order": resending the same request cannot succeed,
 *     so a 5xx with Retry-After would only invite a useless retry;
 *  6. 200 OK listing every current binding with its expires, and a Date.
 *
 * `received` is written when the request came from another address, port or
 * transport than the Contact names (NAT): `sip:IP:PORT;transport=PROTO`, the
 * address the location stage sends to.
 */
import type { SipMessage } from '../sip/message.js';
import { createResponse } from '../sip/response.js';
import { SipSyntaxError, parsedOrNull } from '../sip/errors.js';
import { formatHttpDate } from '../sip/date.js';
import { splitHeaderList, type NameAddr } from '../sip/name-addr.js';
import { isSipUri, parseUri, unescapeUriPart, type SipUri } from '../sip/uri.js';
import { DigestAuthenticator, type ChallengeAlgorithm } from '../auth/digest.js';
import type { NonceService } from '../auth/nonce.js';
import { randomTag } from '../auth/random-pool.js';
import type { FailureCounter } from '../auth/failure-counter.js';
import type { Flow } from '../transport/types.js';
import type { ServerTransaction } from '../transaction/server-transaction.js';
import {
  StaleRegistrationError,
  ValidationError,
  type BindingOwner,
  type BindingProto,
  type LocationBinding,
  type Store,
} from '../store/index.js';
import { registerBindings, type BindingKey, type BindingSet } from './bindings.js';

export interface RegistrarLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface RegistrarOptions {
  store: Store;
  nonces: NonceService;
  /**
   * Digest algorithms offered, preferred first (default SHA-256 then MD5,
   * RFC 8760 2.3). SIPp 3.6 and some old phones answer only the first
   * challenge and only MD5: offer ['MD5', 'SHA-256'] or ['MD5'] for them.
   */
  algorithms?: ChallengeAlgorithm[];
  failures?: FailureCounter;
  /** Seconds when neither the contact nor the request says (default 3600). */
  defaultExpires?: number;
  /** Shortest registration accepted, seconds (default 60; 423 below it). */
  minExpires?: number;
  /** Longest registration granted, seconds (default 7200; longer is lowered). */
  maxExpires?: number;
  /** Server header of our answers, or null. */
  serverHeader?: string | null;
  now?: () => number;
  log?: RegistrarLog;
  /** Called after each REGISTER that wrote bindings: the AOR's live contacts after it (events, metrics). */
  onRegistered?: (aor: string, contacts: string[], flow: Flow) => void;
  /** In a cluster: this node's run, written with each binding (it holds the binding's flow); absent alone. */
  owner?: BindingOwner | null;
}

type Reply = { status: number; reason?: string; headers?: Array<[string, string]> };

export class Registrar {
  private readonly store: Store;
  private readonly auth: DigestAuthenticator;
  readonly defaultExpires: number;
  readonly minExpires: number;
  readonly maxExpires: number;
  private readonly serverHeader: string | null;
  private readonly now: () => number;
  private readonly log: RegistrarLog | null;
  private dateSecond = Number.NaN;
  private dateText = '';
  private readonly onRegistered: RegistrarOptions['onRegistered'];
  private readonly owner: BindingOwner | null;

  constructor(opts: RegistrarOptions) {
    this.store = opts.store;
    this.auth = new DigestAuthenticator({
      nonces: opts.nonces,
      algorithms: opts.algorithms ?? ['SHA-256', 'MD5'],
      ...(opts.failures ? { failures: opts.failures } : {}),
      ...(opts.log ? { log: opts.log } : {}),
      // Third-party registration is allowed: the To (the AOR) is what must be the user's.
      matchFromUser: false,
    });
    this.defaultExpires = opts.defaultExpires ?? 3600;
    this.minExpires = opts.minExpires ?? 60;
    this.maxExpires = opts.maxExpires ?? 7200;
    if (!(this.minExpires <= this.maxExpires)) throw new RangeError('registrar: minExpires above maxExpires');
    this.serverHeader = opts.serverHeader ?? null;
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? null;
    this.onRegistered = opts.onRegistered;
    this.owner = opts.owner ?? null;
  }

  /** Whether a REGISTER for this Request-URI is ours to answer: its host is a local domain. */
  async isLocalDomain(uri: SipUri): Promise<boolean> {
    return this.store.domains.exists(uri.host);
  }

  /** Answers the REGISTER through its server transaction. */
  async handle(req: SipMessage, tx: ServerTransaction, flow: Flow): Promise<void> {
    const res = await this.process(req, flow);
    tx.respond(res);
  }

  /** The response to a REGISTER for a local domain (the caller checked isLocalDomain). */
  async process(req: SipMessage, flow: Flow): Promise<SipMessage> {
    let r: Reply;
    try {
      r = await this.run(req, flow);
    } catch (err) {
      if (err instanceof SipSyntaxError) r = { status: 400, reason: err.reasonPhrase };
      else if (err instanceof StaleRegistrationError) r = { status: 400, reason: 'Out of Order' };
      else if (err instanceof ValidationError) r = { status: 400, reason: `Bad ${err.field}` };
      else {
        this.log?.warn({ err: String(err), callId: parsedOrNull(() => req.callId) }, 'registrar: store failure');
        r = { status: 500, reason: 'Registrar Unavailable', headers: [['Retry-After', '5']] };
      }
    }
    const headers = r.headers ? [...r.headers] : [];
    if (this.serverHeader !== null) headers.push(['Server', this.serverHeader]);
    return createResponse(req, r.status, {
      ...(r.reason !== undefined ? { reason: r.reason } : {}),
      headers,
      toTag: randomTag(),
    });
  }

  private async run(req: SipMessage, flow: Flow): Promise<Reply> {
    const ruri = parseUri(req.requestUri);
    if (!isSipUri(ruri)) return { status: 416 };
    const domain = ruri.host;
    const sourceIp = flow.remoteHost;

    // 1. Who is it (10.3 step 3, 22).
    const outcome = await this.auth.verify(req, domain, sourceIp, (u, realm, alg) =>
      this.store.subscribers.ha1(u, realm, alg),
    );
    const rejection = this.auth.rejection(req, outcome, domain, sourceIp);
    if (rejection !== null) {
      return {
        status: rejection.status,
        ...(rejection.reason !== undefined ? { reason: rejection.reason } : {}),
        headers: rejection.headers,
      };
    }
    if (outcome.kind !== 'ok') return { status: 500 };
    const user = outcome.username;

    // 2. May this user register this AOR (10.3 step 5): only its own.
    const to = req.to.uri;
    if (!isSipUri(to) || to.user === null || unescapeUriPart(to.user) !== user || to.host !== domain) {
      return { status: 403, reason: 'Not Your AOR' };
    }
    const aor = `${user}@${domain}`;

    const headerExpires = req.expires;
    const callId = req.callId;
    const cseq = req.cseq.seq;

    // 3. Contact: * (10.3 step 6).
    if (req.contactIsStar) {
      if (req.getAll('Contact').length !== 1 || headerExpires !== 0)
        return { status: 400, reason: 'Contact * Needs Expires 0 Alone' };
      const result = await registerBindings(this.store.location, { aor, callId, cseq, removeAll: true });
      this.onRegistered?.(aor, [], flow);
      return this.ok(result.bindings);
    }

    const contacts = req.contacts;
    if (contacts.length === 0) return this.ok(await this.store.location.listForAor(aor));

    // 4. Each contact (10.3 step 7).
    const path = req.getAll('Path').flatMap((v) => splitHeaderList(v));
    const changes = this.contactChanges(req, contacts, headerExpires, flow, path);
    if ('status' in changes) return changes;
    const { set, remove } = changes;

    // 5. All or nothing.
    const result = await registerBindings(this.store.location, { aor, callId, cseq, set, remove });
    this.onRegistered?.(
      aor,
      result.bindings.map((b) => b.contact),
      flow,
    );
    this.log?.debug(
      { aor, bindings: result.bindings.length, source: `${flow.proto}:${flow.remoteHost}:${flow.remotePort}` },
      'registered',
    );
    const extra: Array<[string, string]> = [];
    // RFC 3327 5.3: the Path goes back to a UA that said it supports it.
    if (path.length > 0 && req.optionTags('Supported').includes('path')) for (const p of path) extra.push(['Path', p]);
    return this.ok(result.bindings, extra);
  }

  /** RFC 3261 10.3 step 7: what each Contact asks for, or 423 when one is too brief. */
  private contactChanges(
    req: SipMessage,
    contacts: SipMessage['contacts'],
    headerExpires: number | null,
    flow: Flow,
    path: string[],
  ): { set: BindingSet[]; remove: BindingKey[] } | Reply {
    const now = this.now();
    const set: BindingSet[] = [];
    const remove: BindingKey[] = [];
    for (const c of contacts) {
      const key = bindingKey(c);
      const expires = contactExpires(c, headerExpires, this.defaultExpires);
      if (expires === 0) {
        remove.push(key);
        continue;
      }
      if (expires < this.minExpires) return { status: 423, headers: [['Min-Expires', String(this.minExpires)]] };
      const granted = Math.min(expires, this.maxExpires);
      // The key's fields written out: on node 20, `{ ...key, more }` costs microseconds per object.
      set.push({
        contact: key.contact,
        instance: key.instance,
        regId: key.regId,
        expiresAt: now + granted * 1000,
        q: contactQ(c),
        received: receivedFor(c, flow),
        path,
        proto: flow.proto as BindingProto,
        localHost: flow.localHost,
        localPort: flow.localPort,
        remoteHost: flow.remoteHost,
        remotePort: flow.remotePort,
        connectionId: flow.connectionId === null ? null : String(flow.connectionId),
        userAgent: req.get('User-Agent') ?? null,
        owner: this.owner,
      });
    }
    return { set, remove };
  }

  /** The Date header value, formatted once per second. */
  private date(now: number): string {
    const second = Math.floor(now / 1000);
    if (second !== this.dateSecond) {
      this.dateSecond = second;
      this.dateText = formatHttpDate(second * 1000);
    }
    return this.dateText;
  }

  /** 6. 200 OK with every current binding and its remaining time (10.3 step 8). */
  private ok(bindings: LocationBinding[], extra: Array<[string, string]> = []): Reply {
    const now = this.now();
    const headers: Array<[string, string]> = [];
    for (const b of bindings) {
      const left = Math.max(1, Math.round((b.expiresAt - now) / 1000));
      let v = `<${b.contact}>;expires=${left}`;
      if (b.q !== 1) v += `;q=${formatQ(b.q)}`;
      if (b.instance !== null) v += `;+sip.instance="${b.instance.replace(/"/g, '')}"`;
      if (b.regId !== null) v += `;reg-id=${b.regId}`;
      headers.push(['Contact', v]);
    }
    headers.push(...extra);
    headers.push(['Date', this.date(now)]);
    return { status: 200, headers };
  }
}

/** RFC 5626: a flow key when the Contact has +sip.instance, else the contact URI. */
function bindingKey(c: NameAddr): BindingKey {
  const inst = c.params.get('+sip.instance');
  const instance = typeof inst === 'string' && inst !== '' ? unquoteParam(inst) : null;
  const rid = c.params.get('reg-id');
  let regId: number | null = null;
  if (instance !== null && typeof rid === 'string') {
    if (!/^\d{1,9}$/.test(rid)) throw new SipSyntaxError('Contact', 'reg-id is not a number');
    regId = Number(rid);
  }
  return { contact: c.uriText, instance, regId };
}

function contactExpires(c: NameAddr, headerExpires: number | null, dflt: number): number {
  const p = c.params.get('expires');
  if (typeof p === 'string') {
    if (!/^\d{1,10}$/.test(p)) throw new SipSyntaxError('Contact', 'expires is not a delta-seconds');
    return Math.min(Number(p), 0xffffffff);
  }
  return headerExpires ?? dflt;
}

function contactQ(c: NameAddr): number {
  const p = c.params.get('q');
  if (p === undefined) return 1;
  if (typeof p !== 'string' || !/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(p))
    throw new SipSyntaxError('Contact', 'q is not a qvalue');
  return Number(p);
}

function formatQ(q: number): string {
  return String(Math.round(q * 1000) / 1000);
}

/** `sip:IP:PORT;transport=PROTO` of the source when the Contact names another address, port or transport; else null. */
export function receivedFor(c: NameAddr, flow: Flow): string | null {
  const host = flow.remoteHost.includes(':') ? `[${flow.remoteHost}]` : flow.remoteHost;
  const u = c.uri;
  if (isSipUri(u)) {
    const t = u.params.get('transport');
    const contactProto = typeof t === 'string' ? t.toLowerCase() : u.scheme === 'sips' ? 'tls' : 'udp';
    const port = u.port ?? (contactProto === 'tls' || u.scheme === 'sips' ? 5061 : 5060);
    if (u.host === host.toLowerCase() && port === flow.remotePort && contactProto === flow.proto) return null;
  }
  return `sip:${host}:${flow.remotePort};transport=${flow.proto}`;
}

function unquoteParam(v: string): string {
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
}
