/**
 * One connection to the cluster's Redis (a URL, or Sentinel: the master its
 * sentinels name), shared by every cluster piece of a node.
 *
 *   const link = new RedisLink(config.redis, 'edge-a', log);
 *   await link.start();               // first connect; rejects when Redis cannot be reached
 *   const s = link.script(LUA);       // EVALSHA, loading the script again after a Redis restart
 *   await s.run(['k1'], ['a1']);      // RedisUnavailableError while Redis is down
 *   link.onChange((up) => ...);       // each outage and each return, once
 *
 * Commands never wait in an offline queue: while Redis is unreachable they
 * fail at once (the callers decide: a new call follows `onRedisDown`,
 * established calls never ask). The client reconnects by itself (every
 * 100 ms growing to 1 s); an outage costs one log line at its start and one
 * at its end. Behind Sentinel the client stays ready while its master is
 * gone, and a command waits until the sentinels name a new one: the master
 * is asked PING every second, and one unanswered within PROBE_WAIT_MS is
 * an outage like any other (commands fail at once, one log line) until a
 * PING is answered again; what must not wait (a shutdown's goodbyes) goes
 * through `bounded`. The first connect is bounded too: a Redis that never
 * answers fails the start (START_WAIT_MS) instead of holding it.
 */
import { createHash } from 'node:crypto';
import { createClient, createSentinel } from 'redis';
import type { RedisTarget } from './config.js';
import { RedisUnavailableError } from './errors.js';

/** The commands the cluster uses, as node-redis types them (a client or a sentinel's master). */
type Client = ReturnType<typeof createClient>;

const CONNECT_TIMEOUT_MS = 2000;
/** How long start() waits for the first connect (the client would try again forever). */
export const START_WAIT_MS = 10_000;
/** How long a shutdown's goodbye (a key deleted, a lease released) may wait for Redis. */
export const GOODBYE_WAIT_MS = 2000;
const RECONNECT_MAX_MS = 1000;
const WATCH_MS = 250;
/** Behind Sentinel: the master is asked PING every PROBE_EVERY watch ticks while up (each tick while down). */
const PROBE_EVERY = 4;
export const PROBE_WAIT_MS = 1000;

export interface LinkLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** A Lua script run by its SHA1 (EVALSHA), loaded again on NOSCRIPT (a restarted or flushed Redis). */
export class RedisScript {
  readonly sha: string;
  constructor(
    private readonly link: RedisLink,
    readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(keys: string[], args: Array<string | number>): Promise<unknown> {
    const strArgs = args.map(String);
    const c = this.link.client();
    try {
      return await c.evalSha(this.sha, { keys, arguments: strArgs });
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
        try {
          return await c.eval(this.source, { keys, arguments: strArgs });
        } catch (again) {
          throw this.link.failure('script', again);
        }
      }
      throw this.link.failure('script', err);
    }
  }
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/** Where the link connects to, for the log and `cluster status`. */
export function describeTarget(target: RedisTarget): string {
  if (typeof target === 'string') return redactUrl(target);
  return `sentinel ${target.name} via ${target.sentinels.map(redactUrl).join(', ')}`;
}

function reconnectStrategy(retries: number): number {
  return Math.min(100 * (retries + 1), RECONNECT_MAX_MS);
}

function makeClient(target: RedisTarget): Client {
  const socket = { connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy };
  if (typeof target === 'string') return createClient({ url: target, socket, disableOfflineQueue: true });
  const roots = target.sentinels.map((s) => {
    const u = new URL(s);
    return { host: u.hostname, port: Number(u.port || 26379) };
  });
  // A sentinel client answers the same commands as a client: its master's.
  return createSentinel({
    name: target.name,
    sentinelRootNodes: roots,
    nodeClientOptions: {
      database: target.db,
      ...(target.password !== undefined && { password: target.password }),
      socket,
      disableOfflineQueue: true,
    },
  }) as unknown as Client;
}

const QUIT_WAIT_MS = 1000;

/**
 * Closes a client (a plain or a Sentinel one): close() when it is
 * connected, bounded (a Redis that stops answering meanwhile does not hold
 * a shutdown), destroy() at once when it is not (while Redis is
 * unreachable a close would wait for a reconnect forever).
 */
export async function closeClient(client: Pick<Client, 'isOpen' | 'isReady' | 'close' | 'destroy'>): Promise<void> {
  if (!client.isOpen) return;
  // destroy() is void on a client and a promise on a Sentinel client.
  const destroy = (): void => void Promise.resolve(client.destroy()).catch(() => undefined);
  if (!client.isReady) {
    destroy();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const closed = client.close().then(
    () => true,
    () => false,
  );
  const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), QUIT_WAIT_MS)));
  const done = await Promise.race([closed, timeout]);
  clearTimeout(timer);
  if (!done && client.isOpen) destroy();
}

export class RedisLink {
  readonly #client: Client;
  readonly #target: RedisTarget;
  readonly #log: LinkLog;
  readonly #where: string;
  readonly #listeners: Array<(up: boolean) => void> = [];
  #up = false;
  #closing = false;
  #downSince: number | null = null;
  #watcher: NodeJS.Timeout | null = null;
  /** Behind Sentinel: the PING not answered yet (at most one at a time), and watch ticks since the last one. */
  #probe: Promise<unknown> | null = null;
  #ticks = 0;

  constructor(target: RedisTarget, log: LinkLog) {
    this.#client = makeClient(target);
    this.#target = target;
    this.#log = log;
    this.#where = describeTarget(target);
    this.#client.on('error', (err: unknown) => this.#down(err));
    this.#client.on('ready', () => this.#setUp());
    this.#client.on('end', () => this.#down(new Error('connection closed')));
  }

  /**
   * A failover may pass without an event: the client's own readiness is
   * read every 250 ms; behind Sentinel, where the client stays ready with
   * no master, the master's PING answer decides.
   */
  #watch(): void {
    this.#watcher = setInterval(() => {
      if (!this.#client.isReady) {
        if (this.#up) this.#down(new Error('not ready (reconnecting)'));
      } else if (typeof this.#target !== 'string') {
        if (!this.#up || ++this.#ticks >= PROBE_EVERY) this.#ping();
      } else if (!this.#up) this.#setUp();
    }, WATCH_MS);
    this.#watcher.unref();
  }

  /** One PING to the master (none while one is unanswered): up when answered, down when not within PROBE_WAIT_MS. */
  #ping(): void {
    if (this.#probe !== null) return;
    this.#ticks = 0;
    const probe = this.#client.ping();
    this.#probe = probe;
    const settled = (): void => {
      if (this.#probe === probe) this.#probe = null;
    };
    probe.then(
      () => {
        settled();
        this.#setUp();
      },
      (err: unknown) => {
        settled();
        this.#down(err);
      },
    );
    setTimeout(() => {
      if (this.#probe === probe) this.#down(new Error(`no answer to PING within ${PROBE_WAIT_MS / 1000} s`));
    }, PROBE_WAIT_MS).unref();
  }

  /** Whether the link is connected now. */
  get up(): boolean {
    return this.#up;
  }

  /** Where it connects to (no password). */
  get where(): string {
    return this.#where;
  }

  /** Connects once; rejects (and leaves nothing open) when Redis cannot be reached within `waitMs`. */
  async start(waitMs = START_WAIT_MS): Promise<void> {
    try {
      await this.bounded(this.#client.connect(), `no connection within ${waitMs / 1000} s`, waitMs);
    } catch (err) {
      await this.close();
      throw err instanceof RedisUnavailableError ? err : new RedisUnavailableError(this.#where, err);
    }
    this.#setUp();
    this.#watch();
  }

  /** Called on each change: false at the start of an outage, true when Redis is back. */
  onChange(fn: (up: boolean) => void): void {
    this.#listeners.push(fn);
  }

  /** The client for a command; throws RedisUnavailableError while down. */
  client(): Client {
    if (!this.#up || !this.#client.isReady) throw new RedisUnavailableError(this.#where);
    return this.#client;
  }

  /** `p`, or RedisUnavailableError (naming `what`) when it has not settled within `ms`. */
  async bounded<T>(p: Promise<T>, what: string, ms = GOODBYE_WAIT_MS): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RedisUnavailableError(`${this.#where} (${what})`)), ms);
    });
    try {
      return await Promise.race([p, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  script(source: string): RedisScript {
    return new RedisScript(this, source);
  }

  /** A failed command as RedisUnavailableError (connection errors), else as it was. */
  failure(what: string, err: unknown): Error {
    if (err instanceof RedisUnavailableError) return err;
    const msg = err instanceof Error ? err.message : String(err);
    // A script's own error (ERR ... user_script) is a bug of ours, not an outage.
    if (/user_script|ERR Error running script|WRONGTYPE/.test(msg)) return err instanceof Error ? err : new Error(msg);
    return new RedisUnavailableError(`${this.#where} (${what})`, err);
  }

  /**
   * A second client of the same kind for SUBSCRIBE (a subscribed client
   * takes no other command), not connected yet; behind Sentinel it follows
   * the master as the first does.
   */
  duplicate(): Client {
    return makeClient(this.#target);
  }

  async close(): Promise<void> {
    this.#closing = true;
    if (this.#watcher !== null) clearInterval(this.#watcher);
    this.#up = false;
    await closeClient(this.#client);
  }

  #setUp(): void {
    if (this.#up || this.#closing) return;
    this.#up = true;
    if (this.#downSince !== null) {
      this.#log.info({ redis: this.#where, downMs: Date.now() - this.#downSince }, 'cluster: redis is back');
      this.#downSince = null;
    }
    for (const fn of this.#listeners) fn(true);
  }

  #down(err: unknown): void {
    if (this.#closing) return;
    const wasUp = this.#up;
    this.#up = false;
    if (!wasUp) return;
    this.#downSince = Date.now();
    this.#log.warn(
      { redis: this.#where, err: err instanceof Error ? err.message : String(err) },
      'cluster: redis unreachable',
    );
    for (const fn of this.#listeners) fn(false);
  }
}
