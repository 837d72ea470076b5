/**
 * Aliases: numbers or names that reach a subscriber (the DID-to-user map of
 * a SIP trunk). One to one (`+912240001234`), by prefix (`+9122400012*`
 * matches every number starting +9122400012), or many aliases to one user.
 */
import type { Kysely } from 'kysely';
import type { StoreContext } from '../context.js';
import type { Database } from '../schema.js';
import { ConflictError, NotFoundError, isForeignKeyViolation } from '../errors.js';
import { checkUsername, normalizeDomain, parseAlias } from '../validate.js';

export interface Alias {
  /** As added: a number, a prefix ending in `*`, or a name. */
  alias: string;
  subscriberId: number;
  username: string;
  domain: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
}

/** The alias a number or name resolved through. */
export interface AliasMatch extends Alias {
  /** True for an exact entry, false for a prefix entry. */
  exact: boolean;
}

/** The longest number or name `resolve` looks at. */
const MAX_LOOKUP = 64;

interface JoinedRow {
  alias: string;
  subscriber_id: number;
  username: string;
  domain: string;
  created_at: number;
}

function toAlias(row: JoinedRow): Alias {
  return {
    alias: row.alias,
    subscriberId: row.subscriber_id,
    username: row.username,
    domain: row.domain,
    createdAt: row.created_at,
  };
}

export class AliasRepo {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** Aliases with their subscriber's name; on DB, the store's or a transaction's. */
  #joined(db: Kysely<Database> = this.#ctx.db) {
    return db
      .selectFrom('aliases')
      .innerJoin('subscribers', 'subscribers.id', 'aliases.subscriber_id')
      .select([
        'aliases.alias',
        'aliases.subscriber_id',
        'aliases.created_at',
        'subscribers.username',
        'subscribers.domain',
      ]);
  }

  /**
   * Points ALIAS at USER@DOMAIN. NotFoundError for an unknown subscriber,
   * ConflictError when the alias exists (whoever it points at).
   */
  async add(alias: string, username: string, domain: string): Promise<Alias> {
    const a = parseAlias(alias).alias;
    const u = checkUsername(username);
    const d = normalizeDomain(domain);
    const now = this.#ctx.now();
    try {
      return await this.#ctx.write(async (db) => {
        const sub = await db
          .selectFrom('subscribers')
          .select('id')
          .where('username', '=', u)
          .where('domain', '=', d)
          .executeTakeFirst();
        if (sub === undefined) throw new NotFoundError(`unknown subscriber ${u}@${d}`);
        const row = await db
          .insertInto('aliases')
          .values({ alias: a, subscriber_id: sub.id, created_at: now })
          .onConflict((oc) => oc.column('alias').doNothing())
          .returningAll()
          .executeTakeFirst();
        if (row === undefined) throw new ConflictError(`alias ${a} exists`);
        return toAlias({ ...row, username: u, domain: d });
      });
    } catch (err) {
      if (isForeignKeyViolation(err)) throw new NotFoundError(`unknown subscriber ${u}@${d}`);
      throw err;
    }
  }

  /** Removes an alias and returns it; NotFoundError when unknown. */
  async rm(alias: string): Promise<Alias> {
    const a = parseAlias(alias).alias;
    return this.#ctx.write(async (db) => {
      const row = await this.#joined(db).where('aliases.alias', '=', a).executeTakeFirst();
      if (row === undefined) throw new NotFoundError(`unknown alias ${a}`);
      await db.deleteFrom('aliases').where('alias', '=', a).execute();
      return toAlias(row);
    });
  }

  /**
   * Every alias, by alias; with `username` and/or `domain`, only those
   * pointing at matching subscribers.
   */
  async list(opts: { username?: string; domain?: string } = {}): Promise<Alias[]> {
    let q = this.#joined().orderBy(this.#ctx.orderText('aliases.alias'));
    if (opts.username !== undefined) q = q.where('subscribers.username', '=', checkUsername(opts.username));
    if (opts.domain !== undefined) q = q.where('subscribers.domain', '=', normalizeDomain(opts.domain));
    return (await q.execute()).map(toAlias);
  }

  /**
   * The subscriber a number or name reaches: the exact entry when there is
   * one, else the longest prefix entry (`+9122400012*` before `+91224*`);
   * undefined when none matches. A prefix entry also matches its own digits
   * (`+9122400012*` matches `+9122400012`).
   */
  async resolve(numberOrName: string): Promise<AliasMatch | undefined> {
    if (typeof numberOrName !== 'string' || numberOrName === '' || numberOrName.length > MAX_LOOKUP) {
      return undefined;
    }
    const keys = [numberOrName];
    for (let i = 1; i <= numberOrName.length; i++) keys.push(`${numberOrName.slice(0, i)}*`);
    const rows = await this.#joined().where('aliases.alias', 'in', keys).execute();
    if (rows.length === 0) return undefined;
    const exact = rows.find((r) => r.alias === numberOrName);
    if (exact !== undefined) return { ...toAlias(exact), exact: true };
    let best = rows[0]!;
    for (const r of rows) if (r.alias.length > best.alias.length) best = r;
    return { ...toAlias(best), exact: false };
  }
}
