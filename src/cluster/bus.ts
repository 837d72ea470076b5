/**
 * Messages between nodes over Redis pub/sub (channel `tl:bus`): a hang-up
 * asked on one node for a call another holds, a ban to apply now. Pub/sub
 * is at most once: a message sent while a node is cut off from Redis is
 * lost to it, so every piece that uses the bus also keeps its state in
 * Redis or the store, where a node catches up when it is back.
 *
 *   bus.on('hangup', (msg, from) => ...);
 *   await bus.publish('hangup', { callSid });
 */
import { closeClient, type LinkLog, type RedisLink } from './redis-link.js';
import { keys } from './keys.js';

type Handler = (data: Record<string, unknown>, from: string) => void;

export class ClusterBus {
  readonly #link: RedisLink;
  readonly #self: string;
  readonly #log: LinkLog;
  readonly #handlers = new Map<string, Handler[]>();
  #sub: ReturnType<RedisLink['duplicate']> | null = null;

  constructor(link: RedisLink, self: string, log: LinkLog) {
    this.#link = link;
    this.#self = self;
    this.#log = log;
  }

  /** Subscribes (a connection of its own); rejects when Redis cannot be reached. */
  async start(): Promise<void> {
    const sub = this.#link.duplicate();
    // Errors of this connection are the link's outage too; it reconnects and subscribes again by itself.
    sub.on('error', () => undefined);
    await sub.connect();
    await sub.subscribe(keys.bus, (raw: string) => this.#dispatch(raw));
    this.#sub = sub;
  }

  async stop(): Promise<void> {
    const sub = this.#sub;
    this.#sub = null;
    if (sub === null) return;
    await closeClient(sub);
  }

  /** Handles messages of one type sent by other nodes (never this node's own). */
  on(type: string, fn: Handler): void {
    const list = this.#handlers.get(type) ?? [];
    list.push(fn);
    this.#handlers.set(type, list);
  }

  /** Sends to every other node; resolves with how many nodes listened; rejects while Redis is down. */
  async publish(type: string, data: Record<string, unknown>): Promise<number> {
    try {
      return await this.#link.client().publish(keys.bus, JSON.stringify({ type, from: this.#self, data }));
    } catch (err) {
      throw this.#link.failure('publish', err);
    }
  }

  #dispatch(raw: string): void {
    let msg: { type?: unknown; from?: unknown; data?: unknown };
    try {
      msg = JSON.parse(raw) as typeof msg;
    } catch {
      this.#log.warn({ bytes: raw.length }, 'cluster: a bus message that is not JSON was ignored');
      return;
    }
    if (typeof msg.type !== 'string' || typeof msg.from !== 'string' || msg.from === this.#self) return;
    const data = typeof msg.data === 'object' && msg.data !== null ? (msg.data as Record<string, unknown>) : {};
    for (const fn of this.#handlers.get(msg.type) ?? []) {
      try {
        fn(data, msg.from);
      } catch (err) {
        this.#log.warn({ type: msg.type, err: String(err) }, 'cluster: a bus handler failed');
      }
    }
  }
}
