/**
 * Locating SIP servers (RFC 3263 section 4): a SIP or SIPS URI becomes the
 * ordered list of (transport, IP address, port) targets a client tries in
 * turn, failing over down the list (RFC 3263 4.3).
 *
 * DNS goes through node:dns (c-ares) with one Resolver per locator, and every
 * answer, positive or negative, is kept in a bounded TTL cache keyed by
 * (record type, name). Concurrent identical questions share one query.
 */
import { promises as dns } from 'node:dns';
import type { SipUri } from '../sip/uri.js';
import type { TransportProto } from '../transport/types.js';
import { TtlCache } from './cache.js';
import { orderSrv } from './srv.js';
import { DnsLookupError } from './errors.js';
import { NAPTR_SERVICES, defaultPortFor, identityOf, normalizeDomain, srvNameFor, targetOf } from './sip-names.js';

export { DnsLookupError } from './errors.js';

export interface SipTarget {
  proto: TransportProto;
  /** IP literal, no brackets. */
  host: string;
  port: number;
  /**
   * For TLS server-name checks and logs: the host of the URI (no brackets,
   * no trailing dot). RFC 5922 4.1: the identity to check is the SIP domain
   * from the URI, never a name found through NAPTR or SRV.
   */
  name: string;
}

export interface LocatorOptions {
  /** DNS servers, e.g. ['127.0.0.1:5353'] in tests; default: the system's. */
  servers?: string[];
  /** Per query (c-ares backs off on each retry), ms. Default 2000. */
  timeoutMs?: number;
  /** Attempts per server. Default 2. */
  tries?: number;
  /** Cache bound; when full the oldest entry goes. Default 10000. */
  maxCacheEntries?: number;
  /** How long NXDOMAIN / no-data answers are cached, s. Default 30. */
  negativeTtlS?: number;
  /**
   * How long SRV and NAPTR answers are cached, s. Default 300. node:dns
   * returns no TTL for those types (resolveSrv/resolveNaptr have no
   * {ttl: true}), so this fixed value stands in for the record TTL.
   */
  defaultTtlS?: number;
  /** Clock for cache expiry, ms (Date.now by default). */
  now?: () => number;
  /** Source of randomness for the RFC 2782 weighted SRV order, [0, 1). Default Math.random. */
  random?: () => number;
  /** What we can send on; default ['udp', 'tcp', 'tls']. */
  supportedTransports?: TransportProto[];
}

type RrType = 'A' | 'AAAA' | 'SRV' | 'NAPTR';

interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

interface NaptrRecord {
  flags: string;
  service: string;
  regexp: string;
  replacement: string;
  order: number;
  preference: number;
}

interface RecordOf {
  A: string;
  AAAA: string;
  SRV: SrvRecord;
  NAPTR: NaptrRecord;
}

/** A failed lookup: node:dns code (ENOTFOUND, ENODATA, ETIMEOUT, ...) and the error. */
interface Failure {
  ok: false;
  code: string;
  cause: unknown;
}

/** A cached DNS answer: records, or a negative / failed lookup. */
type Answer<T> = { ok: true; records: T[] } | Failure;

/** Answers that say the name or the data does not exist (RFC 2308); these are cached. */
const NEGATIVE = new Set(['ENOTFOUND', 'ENODATA']);

const DEFAULTS = {
  timeoutMs: 2000,
  tries: 2,
  maxCacheEntries: 10_000,
  negativeTtlS: 30,
  defaultTtlS: 300,
} as const;

/**
 * At most this many SRV records of one RRset are resolved to addresses: the
 * URIs we locate come from the network, and one answer should not be able to
 * make us send hundreds of queries.
 */
const MAX_SRV_RECORDS = 16;

/** Result of the SRV step for one transport. */
interface SrvOutcome {
  /** The SRV query returned records (even if only '.'), so there is no A/AAAA fallback. */
  found: boolean;
  targets: SipTarget[];
}

export class SipLocator {
  private readonly resolver: dns.Resolver;
  private readonly cache: TtlCache<Answer<unknown>>;
  private readonly inflight = new Map<string, Promise<Answer<unknown>>>();
  private readonly negativeTtlMs: number;
  private readonly defaultTtlMs: number;
  private readonly random: () => number;
  private readonly supported: ReadonlySet<TransportProto>;
  /** Bumped by clearCache, so that answers to queries already under way are not stored afterwards. */
  private generation = 0;

  constructor(opts: LocatorOptions = {}) {
    this.resolver = new dns.Resolver({
      timeout: opts.timeoutMs ?? DEFAULTS.timeoutMs,
      tries: opts.tries ?? DEFAULTS.tries,
    });
    if (opts.servers !== undefined) this.resolver.setServers(opts.servers);
    this.cache = new TtlCache(opts.maxCacheEntries ?? DEFAULTS.maxCacheEntries, opts.now ?? Date.now);
    this.negativeTtlMs = (opts.negativeTtlS ?? DEFAULTS.negativeTtlS) * 1000;
    this.defaultTtlMs = (opts.defaultTtlS ?? DEFAULTS.defaultTtlS) * 1000;
    this.random = opts.random ?? Math.random;
    this.supported = new Set(opts.supportedTransports ?? ['udp', 'tcp', 'tls']);
  }

  /**
   * RFC 3263 section 4: the ordered list of targets to try for this URI
   * (failover goes down the list). Never empty: throws DnsLookupError when
   * nothing can be located.
   */
  async locate(uri: SipUri): Promise<SipTarget[]> {
    const secure = uri.scheme === 'sips';
    const name = identityOf(uri);
    const target = targetOf(uri);
    const explicit = this.explicitTransport(uri, name);

    // 4.1/4.2: numeric TARGET: no DNS at all. Transport as given, else UDP
    // for SIP and TLS (TCP) for SIPS; the URI's port, else the default.
    if (target.literal) {
      const proto = explicit ?? this.defaultTransport(secure, name);
      return [{ proto, host: target.host, port: uri.port ?? defaultPortFor(proto), name }];
    }

    const errors: Failure[] = [];

    // 4.2: a domain with an explicit port: A/AAAA only, no NAPTR or SRV.
    // 4.1: the transport is the one given, else UDP (SIP) / TLS (SIPS).
    if (uri.port !== null) {
      const proto = explicit ?? this.defaultTransport(secure, name);
      const targets = await this.addressTargets(target.host, proto, uri.port, name, errors);
      return this.finish(targets, target.host, errors);
    }

    // 4.1: "If the URI specifies a transport protocol in the transport
    // parameter, that transport protocol SHOULD be used"; 4.2: then SRV for
    // that transport ("_sips" when it is TLS), else A/AAAA at its default port.
    if (explicit !== null) {
      const srvName = srvNameFor(explicit, target.host);
      const srv =
        srvName === null ? { found: false, targets: [] } : await this.srvTargets(srvName, explicit, name, errors);
      if (srv.found) return this.finish(srv.targets, target.host, errors);
      const targets = await this.addressTargets(target.host, explicit, defaultPortFor(explicit), name, errors);
      return this.finish(targets, target.host, errors);
    }

    // 4.1: NAPTR on the domain.
    const viaNaptr = await this.naptrTargets(target.host, secure, name, errors);
    if (viaNaptr !== null) {
      if (viaNaptr.found) return this.finish(viaNaptr.targets, target.host, errors);
      // 4.2: "If no SRV records were found, the client performs an A or AAAA
      // record lookup of the domain name", with the transport NAPTR chose.
      const targets = await this.addressTargets(
        target.host,
        viaNaptr.proto,
        defaultPortFor(viaNaptr.proto),
        name,
        errors,
      );
      return this.finish(targets, target.host, errors);
    }

    // 4.1: no (usable) NAPTR: "the client constructs SRV queries for those
    // transport protocols it supports, and does a query for each", "_sip" for
    // SIP and "_sips" for SIPS URIs; a transport is supported by the server
    // if its query succeeds. Preference: TLS, TCP, UDP (the order of the
    // RFC's NAPTR example); a SIPS URI only ever uses _sips._tcp.
    const order: TransportProto[] = secure ? ['tls'] : ['tls', 'tcp', 'udp'];
    const usable = order.filter((p) => this.supported.has(p));
    const outcomes = await Promise.all(
      usable.map((p) => this.srvTargets(srvNameFor(p, target.host)!, p, name, errors)),
    );
    if (outcomes.some((o) => o.found))
      return this.finish(
        outcomes.flatMap((o) => o.targets),
        target.host,
        errors,
      );

    // 4.2: no SRV either: A/AAAA of the domain; 4.1: "If no SRV records are
    // found, the client SHOULD use TCP for a SIPS URI, and UDP for a SIP URI".
    const proto = this.defaultTransport(secure, name);
    const targets = await this.addressTargets(target.host, proto, defaultPortFor(proto), name, errors);
    return this.finish(targets, target.host, errors);
  }

  /** Cached answers (expired ones are swept first). */
  cacheSize(): number {
    return this.cache.size();
  }

  clearCache(): void {
    this.cache.clear();
    this.generation++;
  }

  // -------------------------------------------------------------------------
  // Transport selection (RFC 3263 4.1)

  /**
   * The transport parameter, if any, mapped onto what we send on. For a SIPS
   * URI, transport=tcp means TLS over TCP (RFC 3261 26.2.2, RFC 5630) and
   * ws means WSS; SIPS over UDP does not exist. Throws ETRANSPORT for an
   * unknown or unsupported transport.
   */
  private explicitTransport(uri: SipUri, name: string): TransportProto | null {
    const raw = uri.params.get('transport');
    if (raw === undefined || raw === null || raw === '') return null;
    const t = raw.toLowerCase();
    let proto: TransportProto | null = null;
    if (t === 'udp' || t === 'tcp' || t === 'tls' || t === 'ws' || t === 'wss') proto = t;
    if (proto !== null && uri.scheme === 'sips') {
      if (proto === 'tcp') proto = 'tls';
      else if (proto === 'ws') proto = 'wss';
      else if (proto === 'udp')
        throw new DnsLookupError('ETRANSPORT', name, `transport=udp is not possible for a sips URI (${name})`);
    }
    if (proto === null || !this.supported.has(proto)) {
      throw new DnsLookupError('ETRANSPORT', name, `unsupported transport ${t} for ${name}`);
    }
    return proto;
  }

  /**
   * UDP for SIP, TLS for SIPS (RFC 3263 4.1). When UDP is not among the
   * supported transports, a SIP URI falls back to TCP, then TLS.
   */
  private defaultTransport(secure: boolean, name: string): TransportProto {
    const prefs: TransportProto[] = secure ? ['tls'] : ['udp', 'tcp', 'tls'];
    const proto = prefs.find((p) => this.supported.has(p));
    if (proto === undefined)
      throw new DnsLookupError('ETRANSPORT', name, `no supported transport for ${secure ? 'sips' : 'sip'}:${name}`);
    return proto;
  }

  // -------------------------------------------------------------------------
  // NAPTR, SRV, A/AAAA steps

  /**
   * RFC 3263 4.1 NAPTR step. Keeps records with flag "S", an empty regexp,
   * a replacement, a SIP service we support, and for a SIPS URI only SIPS
   * services ("a client resolving a SIPS URI MUST discard any services that
   * do not contain "SIPS" as the protocol"). Per RFC 2915/3403 only the
   * lowest ORDER among those is used; its records are taken by PREFERENCE,
   * each one's SRV targets after the previous one's, so failover moves from
   * the most preferred transport to the next. Returns null when there is no
   * usable NAPTR record (the caller goes on to the SRV-only step).
   */
  private async naptrTargets(
    domain: string,
    secure: boolean,
    name: string,
    errors: Failure[],
  ): Promise<{ found: boolean; targets: SipTarget[]; proto: TransportProto } | null> {
    const answer = await this.query('NAPTR', domain);
    if (!answer.ok) {
      errors.push(answer);
      return null;
    }
    const usable: Array<{ rec: NaptrRecord; proto: TransportProto }> = [];
    for (const rec of answer.records) {
      const service = NAPTR_SERVICES[rec.service.toUpperCase()];
      if (service === undefined || (secure && !service.secure) || !this.supported.has(service.proto)) continue;
      if (rec.flags.toLowerCase() !== 's' || rec.regexp !== '' || rec.replacement === '' || rec.replacement === '.')
        continue;
      usable.push({ rec, proto: service.proto });
    }
    if (usable.length === 0) return null;
    const lowestOrder = Math.min(...usable.map((u) => u.rec.order));
    const chosen = usable
      .filter((u) => u.rec.order === lowestOrder)
      .sort((a, b) => a.rec.preference - b.rec.preference);
    const outcomes = await Promise.all(chosen.map((u) => this.srvTargets(u.rec.replacement, u.proto, name, errors)));
    return {
      found: outcomes.some((o) => o.found),
      targets: outcomes.flatMap((o) => o.targets),
      proto: chosen[0]!.proto,
    };
  }

  /**
   * RFC 3263 4.2 / 4.3 with RFC 2782: SRV records in priority-then-weighted
   * order; each target's addresses (IPv4 first, then IPv6) become targets at
   * the SRV port. A target of "." means the service is decidedly not
   * available (RFC 2782): no targets, and no A/AAAA fallback either.
   */
  private async srvTargets(
    srvName: string,
    proto: TransportProto,
    name: string,
    errors: Failure[],
  ): Promise<SrvOutcome> {
    const answer = await this.query('SRV', srvName);
    if (!answer.ok) {
      errors.push(answer);
      return { found: false, targets: [] };
    }
    const ordered = orderSrv(answer.records, this.random)
      .filter((r) => r.name !== '' && r.name !== '.')
      .slice(0, MAX_SRV_RECORDS);
    const lists = await Promise.all(
      ordered.map((r) => this.addressTargets(normalizeDomain(r.name), proto, r.port, name, errors)),
    );
    return { found: answer.records.length > 0, targets: lists.flat() };
  }

  /** A then AAAA records of host, as targets (RFC 3263 4.2). */
  private async addressTargets(
    host: string,
    proto: TransportProto,
    port: number,
    name: string,
    errors: Failure[],
  ): Promise<SipTarget[]> {
    const [v4, v6] = await Promise.all([this.query('A', host), this.query('AAAA', host)]);
    const out: SipTarget[] = [];
    for (const answer of [v4, v6]) {
      if (!answer.ok) {
        errors.push(answer);
        continue;
      }
      for (const address of answer.records) out.push({ proto, host: address, port, name });
    }
    return out;
  }

  /**
   * The final list: duplicates (same transport, address and port) dropped,
   * first occurrence kept. Empty: ENOTFOUND, unless a lookup failed for
   * another reason than "does not exist" (a timeout, SERVFAIL...), whose code
   * is reported instead since the answer may exist.
   */
  private finish(targets: SipTarget[], host: string, errors: Failure[]): SipTarget[] {
    const seen = new Set<string>();
    const out: SipTarget[] = [];
    for (const t of targets) {
      const key = `${t.proto}|${t.host}|${t.port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(t);
    }
    if (out.length > 0) return out;
    const failure = errors.find((e) => !NEGATIVE.has(e.code));
    if (failure !== undefined) {
      throw new DnsLookupError(failure.code, host, `DNS lookup for ${host} failed: ${failure.code}`, {
        cause: failure.cause,
      });
    }
    throw new DnsLookupError('ENOTFOUND', host, `no SIP server found for ${host}`);
  }

  // -------------------------------------------------------------------------
  // Queries and the cache

  /**
   * One DNS question, through the cache; concurrent identical questions share
   * one query. Positive answers are cached for their TTL (the smallest in the
   * A/AAAA RRset; defaultTtlS for SRV and NAPTR, whose TTL node:dns does not
   * report), NXDOMAIN and no-data for negativeTtlS (RFC 2308 would take the
   * SOA minimum, which node:dns does not expose either). Other failures
   * (timeout, SERVFAIL, refused) are not cached.
   */
  private query<K extends RrType>(type: K, rawName: string): Promise<Answer<RecordOf[K]>> {
    const name = normalizeDomain(rawName);
    const key = `${type} ${name}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) return Promise.resolve(cached as Answer<RecordOf[K]>);
    const pending = this.inflight.get(key);
    if (pending !== undefined) return pending as Promise<Answer<RecordOf[K]>>;
    const generation = this.generation;
    const p = this.fetch(type, name).then(({ answer, ttlMs }) => {
      if (generation === this.generation) this.cache.set(key, answer, ttlMs);
      return answer;
    });
    this.inflight.set(key, p);
    const forget = (): void => {
      if (this.inflight.get(key) === p) this.inflight.delete(key);
    };
    p.then(forget, forget);
    return p as Promise<Answer<RecordOf[K]>>;
  }

  private async fetch(type: RrType, name: string): Promise<{ answer: Answer<unknown>; ttlMs: number }> {
    try {
      switch (type) {
        case 'A':
        case 'AAAA': {
          const recs =
            type === 'A'
              ? await this.resolver.resolve4(name, { ttl: true })
              : await this.resolver.resolve6(name, { ttl: true });
          const ttl = recs.length === 0 ? 0 : Math.min(...recs.map((r) => r.ttl));
          return { answer: { ok: true, records: recs.map((r) => r.address) }, ttlMs: ttl * 1000 };
        }
        case 'SRV':
          return { answer: { ok: true, records: await this.resolver.resolveSrv(name) }, ttlMs: this.defaultTtlMs };
        case 'NAPTR':
          return { answer: { ok: true, records: await this.resolver.resolveNaptr(name) }, ttlMs: this.defaultTtlMs };
      }
    } catch (err) {
      const code = typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'EUNKNOWN';
      return { answer: { ok: false, code, cause: err }, ttlMs: NEGATIVE.has(code) ? this.negativeTtlMs : 0 };
    }
  }
}
