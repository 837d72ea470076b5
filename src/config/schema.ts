/**
 * The config file (README.md, Configuration), as a zod schema. Every key is optional and
 * has the embedded default; objects are strict (an unknown key refuses the
 * start, naming its path). Leaf values are checked by small `leaf()` parsers
 * so that each message reads `KEY: expected WHAT, got VALUE`.
 *
 * The schema gives the defaulted values as written; `finalizeConfig()` in
 * load.ts resolves paths against the config file's directory and fills the
 * defaults that depend on other keys (database in the data directory).
 */
import { z } from 'zod';
import { isIP } from 'node:net';
import {
  type HostPort,
  type ListenAddress,
  isCidr,
  isHostname,
  parseHostPort,
  parseListen,
  parseProtoHostPort,
} from './address.js';
import { securitySchema } from '../security/config.js';
import { clusterSchema } from '../cluster/config.js';
import { bool, int, leaf, oneOf, oneOrList, path, regex, showValue, str } from './leaf.js';
import { trunkingSchema } from './trunking-schema.js';
import { routingSchema } from './quality-schema.js';
import { cdrSchema } from './cdr-schema.js';

export { showValue };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `none`: SDP passes unchanged (signalling only; the peers see each other's media addresses). */
export const MEDIA_ENGINES = ['builtin', 'rtpengine', 'none'] as const;
export type MediaEngine = (typeof MEDIA_ENGINES)[number];

/** TLS protocol versions a listener may speak (1.0/1.1 are never offered). */
export const TLS_VERSIONS = ['1.2', '1.3'] as const;
export type TlsVersion = (typeof TLS_VERSIONS)[number];

export const ROUTE_STAGES = ['location', 'trunking'] as const;
export type RouteStage = (typeof ROUTE_STAGES)[number];

export const DEFAULT_LISTEN = ['udp:127.0.0.1:5060', 'tcp:127.0.0.1:5060', 'tls:127.0.0.1:5061'] as const;
export const DEFAULT_DATA = './data';
export const DEFAULT_RTPENGINE_NG = 'udp:127.0.0.1:2223';

export const LISTEN_EXPECTED = 'udp|tcp|tls|ws|wss:IP:PORT';
const listenAddress = leaf<ListenAddress>(LISTEN_EXPECTED, (v) => (typeof v === 'string' ? parseListen(v) : undefined));

const hostPort = leaf<HostPort>('IP:PORT', (v) => (typeof v === 'string' ? parseHostPort(v) : undefined));

/** rtpengine's ng control address: `udp:IP:PORT` (or plain `IP:PORT`). */
const ngAddress = leaf<HostPort & { proto: 'udp' }>('udp:IP:PORT', (v) => {
  if (typeof v !== 'string') return undefined;
  if (/^udp:/i.test(v)) return parseProtoHostPort(v, ['udp'] as const);
  const hp = parseHostPort(v);
  return hp === undefined ? undefined : { proto: 'udp', ...hp };
});

const hepAddress = leaf<HostPort & { proto: 'udp' | 'tcp' }>('udp|tcp:IP:PORT', (v) =>
  typeof v === 'string' ? parseProtoHostPort(v, ['udp', 'tcp'] as const) : undefined,
);

/** An IP literal; IPv6 may come in brackets, it is kept without. */
const ipAddress = leaf<string>('an IP address', (v) => {
  if (typeof v !== 'string') return undefined;
  const ip = v.startsWith('[') && v.endsWith(']') ? v.slice(1, -1) : v;
  return isIP(ip) !== 0 ? ip : undefined;
});

const ipOrHostname = leaf<string>('an IP address or a host name', (v) => {
  if (typeof v !== 'string') return undefined;
  const ip = v.startsWith('[') && v.endsWith(']') ? v.slice(1, -1) : v;
  if (isIP(ip) !== 0) return ip;
  return isHostname(v) ? v : undefined;
});

/**
 * A listen entry of the object form: the listener, the address written for
 * it in Via/Record-Route/Contact (public address behind NAT), the media
 * relay's address for call legs on its side, destinations it is the way to.
 */
const listenObject = z
  .strictObject({
    listen: listenAddress,
    /** Written in Via/Record-Route/Contact for this listener instead of its address (and the top-level `advertise`). */
    advertise: ipOrHostname.optional(),
    /** The media relay's address for call legs on this listener's side (built-in engine). */
    media: ipAddress.optional(),
    /** Destinations (IP or CIDR) that leave from this listener whatever the kernel's routes say. */
    networks: oneOrList(
      str('an IP address or CIDR block', isCidr),
      'an IP address or CIDR block, or a list of them',
    ).optional(),
  })
  .superRefine((o, ctx) => {
    if (o.media !== undefined && isIP(o.media) !== isIP(o.listen.host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['media'],
        message: `expected an IPv${isIP(o.listen.host)} address like the listener's, got ${showValue(o.media)}`,
      });
    }
    for (const n of o.networks ?? []) {
      const ip = n.includes('/') ? n.slice(0, n.indexOf('/')) : n;
      if (isIP(ip) !== isIP(o.listen.host)) {
        ctx.addIssue({
          code: 'custom',
          path: ['networks'],
          message: `expected IPv${isIP(o.listen.host)} blocks like the listener's, got ${showValue(n)}`,
        });
      }
    }
  })
  .transform(({ listen, ...extra }) => ({ ...listen, ...extra }));

/** A listener of `listen`, with what the object form adds (keys not given are absent). */
export type ListenEntry = z.output<typeof listenObject>;

/** `udp:IP:PORT`, or `{listen: udp:IP:PORT, advertise: ..., media: ..., networks: [...]}`. */
const listenEntry = z.unknown().transform((v, ctx): ListenEntry => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    const r = listenAddress.safeParse(v);
    if (r.success) return r.data;
    for (const iss of r.error.issues) ctx.addIssue({ ...iss, input: v } as z.core.$ZodRawIssue);
    return z.NEVER;
  }
  const r = listenObject.safeParse(v, { reportInput: true });
  if (r.success) return r.data;
  for (const iss of r.error.issues) ctx.addIssue(iss as z.core.$ZodRawIssue);
  return z.NEVER;
});

export interface PortRange {
  min: number;
  max: number;
}

const portRange = leaf<PortRange>('a port range like 10000-40000', (v) => {
  const m = typeof v === 'string' ? /^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$/.exec(v) : null;
  if (m === null) return undefined;
  const min = Number(m[1]);
  const max = Number(m[2]);
  return min >= 1 && max <= 65535 && min < max ? { min, max } : undefined;
});

/** `sqlite:PATH`, `sqlite::memory:` or `postgres://...` / `postgresql://...`. */
const databaseUrl = str('sqlite:PATH or postgres://USER@HOST/DB', (s) => {
  if (/^sqlite:/i.test(s)) return s.slice('sqlite:'.length).trim() !== '';
  if (/^postgres(ql)?:\/\//i.test(s)) {
    try {
      new URL(s);
      return true;
    } catch {
      return false; // TypeError: not a URL, the message names the key
    }
  }
  return false;
});

/** SIP method token (RFC 3261 25.1). */
const methodToken = str('a SIP method like INVITE', (s) => /^[A-Za-z0-9.!%*_+`'~-]+$/.test(s));

const sipUri = str('a sip: or sips: URI', (s) => /^sips?:\S+$/i.test(s));

/** Values allowed in the Server header: printable, no CR/LF. */
const headerText = str(
  'printable text without line breaks, at most 200 characters',
  (s) => s.length <= 200 && !/[\x00-\x1f\x7f]/.test(s),
);

const matchSchema = z
  .strictObject({
    method: methodToken.optional(),
    /** Regular expression over the Request-URI user part. */
    user: regex().optional(),
    /** Regular expression over the Request-URI host part. */
    host: regex().optional(),
    /** IP or CIDR of the request's source address. */
    source: str('an IP address or CIDR block', isCidr).optional(),
  })
  .prefault({});

const routeSchema = z
  .strictObject({
    match: matchSchema,
    /** Targets, one or more (a single URI in the file becomes a list of one). */
    forward: oneOrList(sipUri, 'a sip: URI or a list of them').optional(),
    mode: oneOf(['parallel', 'serial'] as const).default('serial'),
    reply: int(200, 699, 'a SIP status code 200-699').optional(),
    then: oneOf(ROUTE_STAGES).optional(),
    stateless: bool().default(false),
    /**
     * Initial requests matching the rule may bring a Route set naming other
     * hosts, and it is followed; a rule may have this alone, without an action.
     */
    trustRoute: bool().default(false),
  })
  .superRefine((r, ctx) => {
    const actions = (['forward', 'reply', 'then'] as const).filter((k) => r[k] !== undefined);
    if (actions.length === 0 && !r.trustRoute) {
      ctx.addIssue({ code: 'custom', message: 'expected one of forward, reply or then (or trustRoute: true)' });
    } else if (actions.length > 1) {
      ctx.addIssue({
        code: 'custom',
        message: `expected only one of forward, reply or then, got ${actions.join(' and ')}`,
      });
    }
  })
  // trustRoute is kept only when true.
  .transform(
    ({ trustRoute, ...rule }) =>
      (trustRoute ? { ...rule, trustRoute } : rule) as typeof rule & { trustRoute?: boolean },
  );

/** '1.2' or '1.3'; YAML reads an unquoted 1.2 as a number, which means the same. */
const tlsVersion = leaf<TlsVersion>(TLS_VERSIONS.join('|'), (v) => {
  const text = typeof v === 'number' ? v.toFixed(1) : v;
  return typeof text === 'string' && (TLS_VERSIONS as readonly string[]).includes(text)
    ? (text as TlsVersion)
    : undefined;
});

const tlsSchema = z
  .strictObject({
    /** Cert and key come together or not at all (then a generated localhost cert); load.ts makes the paths absolute. */
    cert: path().optional(),
    key: path().optional(),
    ca: path().optional(),
    verifyClient: bool().default(false),
    /** Lowest and highest TLS version offered; 1.3 can be turned off for peers whose TLS 1.3 is broken. */
    minVersion: tlsVersion.default('1.2'),
    maxVersion: tlsVersion.default('1.3'),
  })
  .superRefine((t, ctx) => {
    if (t.minVersion > t.maxVersion) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxVersion'],
        message: `expected a version not below minVersion ${t.minVersion}`,
      });
    }
    if ((t.cert === undefined) !== (t.key === undefined)) {
      const missing = t.cert === undefined ? 'cert' : 'key';
      ctx.addIssue({
        code: 'custom',
        path: [missing],
        message: 'expected cert and key together (or neither, for a generated certificate)',
      });
    }
  })
  .prefault({});

const mediaSchema = z
  .strictObject({
    engine: oneOf(MEDIA_ENGINES).default('builtin'),
    /** Relay address; when absent the server picks (advertise, or the first listen address). */
    address: ipAddress.optional(),
    ports: portRange.default({ min: 10000, max: 40000 }),
    /** Seconds without RTP before a stream counts as dead. */
    timeout: int(1, 86400, 'a number of seconds 1-86400').default(30),
    /** rtpengine's ng control address; udp:127.0.0.1:2223 when the engine is rtpengine and it is not given. */
    ng: ngAddress.optional(),
    /** Address written in SDP when the relay is behind NAT (default: address). */
    advertise: ipAddress.optional(),
    /** Seconds without RTP before a held (sendonly/recvonly/inactive) call counts as dead. */
    holdTimeout: int(1, 86400, 'a number of seconds 1-86400').default(3600),
    /** Run the built-in relay on a worker thread (media off the signalling event loop). */
    worker: bool().default(false),
  })
  .superRefine((m, ctx) => {
    if (m.ports.max - m.ports.min < 3) {
      ctx.addIssue({
        code: 'custom',
        path: ['ports'],
        message: `expected a range of at least 4 ports, got ${m.ports.min}-${m.ports.max}`,
      });
    }
  })
  .transform((m): typeof m =>
    m.ng === undefined && m.engine === 'rtpengine'
      ? { ...m, ng: parseProtoHostPort(DEFAULT_RTPENGINE_NG, ['udp'] as const)! }
      : m,
  )
  .prefault({});

const apiSchema = z
  .strictObject({
    listen: hostPort.default({ host: '127.0.0.1', port: 8080 }),
    /** HTTPS with the SIP TLS files (tls.cert/key, or the generated localhost certificate). */
    tls: bool().default(false),
  })
  .prefault({});

const captureSchema = z
  .strictObject({
    hep: hepAddress.optional(),
    id: int(0, 0xffffffff, 'an integer 0-4294967295').default(2001),
    /** Calls whose SIP messages are kept for traces (`trunkline trace`, the console's ladder); 0 = none. */
    traceCalls: int(0, 100_000, 'an integer 0-100000').default(200),
  })
  .prefault({});

const timersSchema = z
  .strictObject({
    /** RFC 3261 17: RTT estimate, ms. */
    t1: int(1, 60_000, 'milliseconds 1-60000').default(500),
    /** Maximum retransmit interval for non-INVITE requests and INVITE responses, ms. */
    t2: int(1, 600_000, 'milliseconds 1-600000').default(4000),
    /** Maximum time a message stays in the network, ms. */
    t4: int(1, 600_000, 'milliseconds 1-600000').default(5000),
  })
  .superRefine((t, ctx) => {
    if (t.t2 < t.t1)
      ctx.addIssue({ code: 'custom', path: ['t2'], message: `expected t2 >= t1 (${t.t1}), got ${t.t2}` });
  })
  .prefault({});

const limitsSchema = z
  .strictObject({
    maxMessageBytes: int(256, 16 * 1024 * 1024, 'bytes 256-16777216').default(65536),
    maxHeaders: int(1, 10_000).default(100),
    maxHeaderBytes: int(64, 1024 * 1024, 'bytes 64-1048576').default(16384),
    maxConnectionsPerIp: int(1, 1_000_000).default(64),
    /** A TCP/TLS/WS connection without traffic for this long is closed. */
    idleTimeoutMs: int(1, 86_400_000, 'milliseconds 1-86400000').default(300_000),
  })
  .prefault({});

const sipSchema = z
  .strictObject({
    timers: timersSchema,
    limits: limitsSchema,
    serverHeader: headerText.default('Trunkline'),
  })
  .prefault({});

export const DIGEST_ALGORITHMS = ['SHA-256', 'MD5'] as const;
export type DigestAlgorithmName = (typeof DIGEST_ALGORITHMS)[number];

/** Digest algorithms offered, preferred first; one name or a list (`MD5` for old phones and SIPp 3.6). */
const digestAlgorithms = z.preprocess(
  (v) => (typeof v === 'string' ? [v] : v),
  z
    .array(oneOf(DIGEST_ALGORITHMS), {
      error: (iss) => `expected SHA-256|MD5 or a list of them, got ${showValue(iss.input)}`,
    })
    .min(1, { error: 'expected SHA-256|MD5 or a list of them, got an empty list' }),
);

const registrarSchema = z
  .strictObject({
    minExpires: int(1, 86_400, 'seconds 1-86400').default(60),
    defaultExpires: int(1, 86_400, 'seconds 1-86400').default(3600),
    maxExpires: int(1, 604_800, 'seconds 1-604800').default(7200),
    algorithms: digestAlgorithms.default(['SHA-256', 'MD5']),
    /** Seconds between keep-alive pings to NATed contacts; 0 = off. */
    keepAlive: int(0, 3600, 'seconds 0-3600').default(30),
    /** A local user's request other than REGISTER must come From the authenticated user (403 otherwise). */
    checkFromUser: bool().default(true),
  })
  .superRefine((r, ctx) => {
    if (r.minExpires > r.maxExpires)
      ctx.addIssue({
        code: 'custom',
        path: ['maxExpires'],
        message: `expected maxExpires >= minExpires (${r.minExpires}), got ${r.maxExpires}`,
      });
    else if (r.defaultExpires < r.minExpires || r.defaultExpires > r.maxExpires) {
      ctx.addIssue({
        code: 'custom',
        path: ['defaultExpires'],
        message: `expected a value from minExpires to maxExpires, got ${r.defaultExpires}`,
      });
    }
  })
  .prefault({});

const logSchema = z
  .strictObject({
    level: oneOf(LOG_LEVELS).default('info'),
  })
  .prefault({});

/**
 * The whole file. Listen may be one entry or a list. Its output is the
 * config (TrunklineConfig below) but for what load.ts's finalizeConfig()
 * resolves against the file's directory: the paths and the database.
 */
export const configSchema = z.strictObject({
  listen: oneOrList(listenEntry, `a list of ${LISTEN_EXPECTED}`).default(() =>
    DEFAULT_LISTEN.map((l) => parseListen(l)!),
  ),
  /** Address written in Via/Record-Route/Contact (IP without brackets, or a host name). */
  advertise: ipOrHostname.optional(),
  /** The data directory (absolute once loaded). */
  data: path().default(DEFAULT_DATA),
  /** `sqlite:PATH` or `postgres://...`: a DatabaseConfig once loaded, in the data directory when absent. */
  database: databaseUrl.optional(),
  tls: tlsSchema,
  media: mediaSchema,
  /** The HTTP API, /metrics and health checks; `tls`: HTTPS with the SIP TLS files. */
  api: apiSchema,
  /** HEP3 capture; off when `hep` is absent. */
  capture: captureSchema,
  routes: z.array(routeSchema).default([]),
  sip: sipSchema,
  /** Registrar bounds (RFC 3261 10.3) and the digest algorithms it offers (RFC 8760). */
  registrar: registrarSchema,
  trunking: trunkingSchema,
  /** Carrier quality: rolling figures and demotion (src/trunking/quality.ts). */
  routing: routingSchema,
  cdr: cdrSchema,
  log: logSchema,
  /** The security edge (src/security/config.ts): every step switchable, with its defaults. */
  security: securitySchema,
  /** Many nodes sharing one Redis (src/cluster/); absent: one node alone. */
  cluster: clusterSchema,
});

/** What the schema gives: defaults in, paths not yet resolved. */
export type RawConfig = z.output<typeof configSchema>;

export type DatabaseConfig =
  /** `file` is absolute, or `:memory:`. */
  { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

/** The parsed, defaulted config: the schema's output with paths absolute and the database resolved (load.ts). */
export type TrunklineConfig = Omit<RawConfig, 'database'> & {
  /** Absolute path of the file read; absent when running on the embedded defaults. */
  source?: string;
  database: DatabaseConfig;
};

export type RouteConfig = TrunklineConfig['routes'][number];
export type RouteMatch = RouteConfig['match'];
export type MediaConfig = TrunklineConfig['media'];
export type CdrWebhookConfig = NonNullable<TrunklineConfig['cdr']['webhook']>;
