/**
 * Digest users. The store keeps HA1 = H(username:realm:password) for MD5 and
 * SHA-256 (RFC 7616; realm = the subscriber's domain), never the password.
 */
import { createHash } from 'node:crypto';
import { count, type StoreContext } from '../context.js';
import { ChangeCache } from '../change-cache.js';
import { ConflictError, NotFoundError, ValidationError, isForeignKeyViolation } from '../errors.js';
import type { SubscriberTable } from '../schema.js';
import { aorOf, checkPassword, checkUsername, normalizeDomain } from '../validate.js';

export interface Subscriber {
  id: number;
  username: string;
  domain: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
  updatedAt: number;
}

/** A subscriber with its credentials, for digest authentication. */
export interface SubscriberAuth extends Subscriber {
  /** Hex MD5(username:domain:password). */
  ha1Md5: string;
  /** Hex SHA-256(username:domain:password). */
  ha1Sha256: string;
}

/** What `rm` removed along with the subscriber. */
export interface SubscriberRemoval {
  username: string;
  domain: string;
  aliases: number;
  bindings: number;
}

/** Hex MD5(username:realm:password), the RFC 2617/7616 HA1. */
export function ha1Md5(username: string, realm: string, password: string): string {
  return createHash('md5').update(`${username}:${realm}:${password}`, 'utf8').digest('hex');
}

/** Hex SHA-256(username:realm:password), the RFC 7616 HA1 for SHA-256. */
export function ha1Sha256(username: string, realm: string, password: string): string {
  return createHash('sha256').update(`${username}:${realm}:${password}`, 'utf8').digest('hex');
}

type Row = Pick<SubscriberTable, 'username' | 'domain' | 'created_at' | 'updated_at'> & { id: number };

function toSubscriber(row: Row): Subscriber {
  return {
    id: row.id,
    username: row.username,
    domain: row.domain,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

const PUBLIC = ['id', 'username', 'domain', 'created_at', 'updated_at'] as const;

export class SubscriberRepo {
  readonly #ctx: StoreContext;
  /** get() answers (frozen) while the store does not change: digest checks ask at every REGISTER. */
  readonly #auth: ChangeCache<Readonly<SubscriberAuth> | undefined>;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
    this.#auth = new ChangeCache(ctx);
  }

  /**
   * Adds USER@DOMAIN with a password. NotFoundError for an unknown domain,
   * ConflictError when the subscriber exists.
   */
  async add(username: string, domain: string, password: string): Promise<Subscriber> {
    const u = checkUsername(username);
    const d = normalizeDomain(domain);
    const p = checkPassword(password);
    const now = this.#ctx.now();
    try {
      return await this.#ctx.write(async (db) => {
        const dom = await db.selectFrom('domains').select('domain').where('domain', '=', d).executeTakeFirst();
        if (dom === undefined) throw new NotFoundError(`unknown domain ${d}`);
        const row = await db
          .insertInto('subscribers')
          .values({
            username: u,
            domain: d,
            ha1_md5: ha1Md5(u, d, p),
            ha1_sha256: ha1Sha256(u, d, p),
            created_at: now,
            updated_at: now,
          })
          .onConflict((oc) => oc.columns(['username', 'domain']).doNothing())
          .returning(PUBLIC)
          .executeTakeFirst();
        if (row === undefined) throw new ConflictError(`subscriber ${u}@${d} exists`);
        return toSubscriber(row);
      });
    } catch (err) {
      // The domain removed by another process between the check and the insert.
      if (isForeignKeyViolation(err)) throw new NotFoundError(`unknown domain ${d}`);
      throw err;
    }
  }

  /** Sets a new password (both HA1s). NotFoundError for an unknown subscriber. */
  async passwd(username: string, domain: string, password: string): Promise<Subscriber> {
    const u = checkUsername(username);
    const d = normalizeDomain(domain);
    const p = checkPassword(password);
    const now = this.#ctx.now();
    return this.#ctx.write(async (db) => {
      const row = await db
        .updateTable('subscribers')
        .set({ ha1_md5: ha1Md5(u, d, p), ha1_sha256: ha1Sha256(u, d, p), updated_at: now })
        .where('username', '=', u)
        .where('domain', '=', d)
        .returning(PUBLIC)
        .executeTakeFirst();
      if (row === undefined) throw new NotFoundError(`unknown subscriber ${u}@${d}`);
      return toSubscriber(row);
    });
  }

  /** Removes a subscriber with its aliases and location bindings. */
  async rm(username: string, domain: string): Promise<SubscriberRemoval> {
    const u = checkUsername(username);
    const d = normalizeDomain(domain);
    return this.#ctx.write(async (db) => {
      const row = await db
        .selectFrom('subscribers')
        .select('id')
        .where('username', '=', u)
        .where('domain', '=', d)
        .executeTakeFirst();
      if (row === undefined) throw new NotFoundError(`unknown subscriber ${u}@${d}`);
      const aliases = count(
        (await db.deleteFrom('aliases').where('subscriber_id', '=', row.id).executeTakeFirst()).numDeletedRows,
      );
      const bindings = count(
        (await db.deleteFrom('location').where('aor', '=', aorOf(u, d)).executeTakeFirst()).numDeletedRows,
      );
      await db.deleteFrom('subscribers').where('id', '=', row.id).execute();
      return { username: u, domain: d, aliases, bindings };
    });
  }

  /**
   * Every subscriber (never the HA1s), by domain then user name; with
   * `domain`, that domain's only (NotFoundError when it is unknown).
   */
  async list(opts: { domain?: string } = {}): Promise<Subscriber[]> {
    const db = this.#ctx.db;
    let q = db
      .selectFrom('subscribers')
      .select(PUBLIC)
      .orderBy(this.#ctx.orderText('domain'))
      .orderBy(this.#ctx.orderText('username'));
    if (opts.domain !== undefined) {
      const d = normalizeDomain(opts.domain);
      const dom = await db.selectFrom('domains').select('domain').where('domain', '=', d).executeTakeFirst();
      if (dom === undefined) throw new NotFoundError(`unknown domain ${d}`);
      q = q.where('domain', '=', d);
    }
    return (await q.execute()).map(toSubscriber);
  }

  /**
   * The subscriber with its HA1s, for digest authentication; undefined when
   * there is none (also for a user name or domain that is not well-formed,
   * since it comes from a request).
   */
  async get(username: string, domain: string): Promise<SubscriberAuth | undefined> {
    let u: string;
    let d: string;
    try {
      u = checkUsername(username);
      d = normalizeDomain(domain);
    } catch (err) {
      if (err instanceof ValidationError) return undefined; // a name from a request that no subscriber can have
      throw err;
    }
    // SQLite: kept per change count, else a prepared statement run synchronously (the registrar's hot path).
    const known = this.#auth.get(`${u}@${d}`, () => {
      const stmt = this.#ctx.sqliteRows(
        'select "id", "username", "domain", "created_at", "updated_at", "ha1_md5", "ha1_sha256" from "subscribers" where "username" = ? and "domain" = ?',
      );
      if (stmt === undefined) return undefined;
      const v = stmt.get(u, d);
      if (v === undefined) return { value: undefined };
      const auth: SubscriberAuth = {
        id: v[0] as number,
        username: v[1] as string,
        domain: v[2] as string,
        createdAt: v[3] as number,
        updatedAt: v[4] as number,
        ha1Md5: v[5] as string,
        ha1Sha256: v[6] as string,
      };
      return { value: Object.freeze(auth) };
    });
    if (known !== undefined) return known.value;
    const row = await this.#ctx.db
      .selectFrom('subscribers')
      .selectAll()
      .where('username', '=', u)
      .where('domain', '=', d)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    return { ...toSubscriber(row), ha1Md5: row.ha1_md5, ha1Sha256: row.ha1_sha256 };
  }

  /**
   * The stored HA1 (hex) for one algorithm, or null for an unknown user:
   * the shape of src/auth's Ha1Lookup, so
   * `(user, realm, alg) => store.subscribers.ha1(user, realm, alg)` plugs in.
   */
  async ha1(username: string, domain: string, alg: 'MD5' | 'SHA-256'): Promise<string | null> {
    const auth = await this.get(username, domain);
    if (auth === undefined) return null;
    return alg === 'MD5' ? auth.ha1Md5 : auth.ha1Sha256;
  }

  /** One subscriber without credentials; NotFoundError when unknown. */
  async show(username: string, domain: string): Promise<Subscriber> {
    const u = checkUsername(username);
    const d = normalizeDomain(domain);
    const row = await this.#ctx.db
      .selectFrom('subscribers')
      .select(PUBLIC)
      .where('username', '=', u)
      .where('domain', '=', d)
      .executeTakeFirst();
    if (row === undefined) throw new NotFoundError(`unknown subscriber ${u}@${d}`);
    return toSubscriber(row);
  }
}
