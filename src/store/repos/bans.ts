/**
 * Bans (0003_security): IP addresses the server drops without parsing.
 * Written by `trunkline ban add/rm` and by the server's own steps (flood,
 * brute force), through `write()` so a running server sees a change within
 * its poll interval. Take a StoreContext: `new BanRepo(store.ctx)`.
 *
 * Only active bans are listed (expires_at null or in the future); expired
 * rows are removed by `purgeExpired()` (not a provisioning write: nothing
 * a server caches changes when an expired row goes).
 */
import { isIP } from 'node:net';
import type { StoreContext } from '../context.js';
import { NotFoundError, ValidationError } from '../errors.js';
import type { BanTable } from '../schema.js';

export interface BanRow {
  ip: string;
  reason: string;
  source: string;
  /** Milliseconds since the epoch; null = until lifted by hand. */
  expiresAt: number | null;
  createdAt: number;
}

function toBan(r: BanTable): BanRow {
  return {
    ip: r.ip,
    reason: r.reason,
    source: r.source,
    expiresAt: r.expires_at === null ? null : Number(r.expires_at),
    createdAt: Number(r.created_at),
  };
}

/** An IP literal as a ban key: IPv4-mapped IPv6 as IPv4, IPv6 lowercase, no brackets. */
export function normalizeBanIp(ip: string): string {
  let s = ip.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  s = s.toLowerCase();
  if (s.startsWith('::ffff:') && s.indexOf('.') > 0) s = s.slice(7);
  if (isIP(s) === 0) throw new ValidationError('ip', `not an IP address: ${ip}`);
  return s;
}

export class BanRepo {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /**
   * Bans an IP (or changes its ban): `seconds` null = until lifted. An
   * existing ban is replaced (a new reason and end).
   */
  async add(
    ip: string,
    opts: {
      reason?: string;
      seconds?: number | null;
      source?: string;
      expiresAt?: number | null;
      /** When the ban was decided (a server's own ban: the time its memory has); now by default. */
      createdAt?: number;
    } = {},
  ): Promise<BanRow> {
    const key = normalizeBanIp(ip);
    const now = this.#ctx.now();
    if (opts.seconds !== undefined && opts.seconds !== null && !(Number.isInteger(opts.seconds) && opts.seconds > 0)) {
      throw new ValidationError('for', `expected a positive number of seconds, got ${opts.seconds}`);
    }
    const expiresAt =
      opts.expiresAt !== undefined
        ? opts.expiresAt
        : opts.seconds === undefined || opts.seconds === null
          ? null
          : now + opts.seconds * 1000;
    const row = {
      ip: key,
      reason: opts.reason ?? 'banned by hand',
      source: opts.source ?? 'manual',
      expires_at: expiresAt,
      created_at: opts.createdAt ?? now,
    };
    return this.#ctx.write(async (db) => {
      const r = await db
        .insertInto('bans')
        .values(row)
        .onConflict((oc) =>
          oc.column('ip').doUpdateSet({
            reason: row.reason,
            source: row.source,
            expires_at: row.expires_at,
            created_at: row.created_at,
          }),
        )
        .returningAll()
        .executeTakeFirstOrThrow();
      return toBan(r);
    });
  }

  /** Lifts a ban; NotFoundError when the IP is not banned. */
  async rm(ip: string): Promise<BanRow> {
    const key = normalizeBanIp(ip);
    const now = this.#ctx.now();
    return this.#ctx.write(async (db) => {
      const r = await db.deleteFrom('bans').where('ip', '=', key).returningAll().executeTakeFirst();
      if (r === undefined || (r.expires_at !== null && Number(r.expires_at) <= now))
        throw new NotFoundError(`${key} is not banned`);
      return toBan(r);
    });
  }

  /** Active bans, soonest ending last (permanent ones first), then by IP. */
  async list(): Promise<BanRow[]> {
    const now = this.#ctx.now();
    const rows = await this.#ctx.db
      .selectFrom('bans')
      .selectAll()
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .orderBy(this.#ctx.orderText('ip'))
      .execute();
    return rows.map(toBan);
  }

  /** Removes expired rows; returns how many went. */
  async purgeExpired(): Promise<number> {
    const now = this.#ctx.now();
    const r = await this.#ctx.tx((db) => db.deleteFrom('bans').where('expires_at', '<=', now).executeTakeFirst());
    return Number(r.numDeletedRows ?? 0);
  }
}
