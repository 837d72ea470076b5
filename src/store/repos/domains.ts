/**
 * Local SIP domains: the registrar's realms. A subscriber belongs to one.
 */
import { sql } from 'kysely';
import { count, type StoreContext } from '../context.js';
import { ChangeCache } from '../change-cache.js';
import { ConflictError, NotFoundError, ValidationError, isForeignKeyViolation } from '../errors.js';
import type { DomainTable } from '../schema.js';
import { normalizeDomain } from '../validate.js';

export interface Domain {
  domain: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
}

/** What `rm` removed along with the domain (all zero without cascade). */
export interface DomainRemoval {
  domain: string;
  subscribers: number;
  aliases: number;
  bindings: number;
}

function toDomain(row: DomainTable): Domain {
  return { domain: row.domain, createdAt: row.created_at };
}

export class DomainRepo {
  readonly #ctx: StoreContext;
  /** exists() answers while the store does not change (every REGISTER and call to a user asks). */
  readonly #exists: ChangeCache<boolean>;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
    this.#exists = new ChangeCache(ctx);
  }

  /** Adds a domain (lowercased). ConflictError when it exists. */
  async add(domain: string): Promise<Domain> {
    const d = normalizeDomain(domain);
    const now = this.#ctx.now();
    return this.#ctx.write(async (db) => {
      const row = await db
        .insertInto('domains')
        .values({ domain: d, created_at: now })
        .onConflict((oc) => oc.column('domain').doNothing())
        .returningAll()
        .executeTakeFirst();
      if (row === undefined) throw new ConflictError(`domain ${d} exists`);
      return toDomain(row);
    });
  }

  /**
   * Removes a domain. With subscribers: ConflictError unless `cascade`, which
   * removes them too, with their aliases and location bindings.
   */
  async rm(domain: string, opts: { cascade?: boolean } = {}): Promise<DomainRemoval> {
    const d = normalizeDomain(domain);
    try {
      return await this.#ctx.write(async (db) => {
        const found = await db.selectFrom('domains').select('domain').where('domain', '=', d).executeTakeFirst();
        if (found === undefined) throw new NotFoundError(`unknown domain ${d}`);
        const { n } = await db
          .selectFrom('subscribers')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('domain', '=', d)
          .executeTakeFirstOrThrow();
        const subscribers = Number(n);
        const removal: DomainRemoval = { domain: d, subscribers: 0, aliases: 0, bindings: 0 };
        if (subscribers > 0) {
          if (opts.cascade !== true) {
            throw new ConflictError(
              `domain ${d} has ${subscribers} subscriber${subscribers === 1 ? '' : 's'} (remove them first, or cascade)`,
            );
          }
          const ids = db.selectFrom('subscribers').select('id').where('domain', '=', d);
          const aors = db
            .selectFrom('subscribers')
            .select(sql<string>`username || '@' || domain`.as('aor'))
            .where('domain', '=', d);
          removal.bindings = count(
            (await db.deleteFrom('location').where('aor', 'in', aors).executeTakeFirst()).numDeletedRows,
          );
          removal.aliases = count(
            (await db.deleteFrom('aliases').where('subscriber_id', 'in', ids).executeTakeFirst()).numDeletedRows,
          );
          removal.subscribers = count(
            (await db.deleteFrom('subscribers').where('domain', '=', d).executeTakeFirst()).numDeletedRows,
          );
        }
        await db.deleteFrom('domains').where('domain', '=', d).execute();
        return removal;
      });
    } catch (err) {
      // A subscriber added by another process between the count and the delete.
      if (isForeignKeyViolation(err)) throw new ConflictError(`domain ${d} has subscribers`);
      throw err;
    }
  }

  /** Every domain, by name. */
  async list(): Promise<Domain[]> {
    const rows = await this.#ctx.db.selectFrom('domains').selectAll().orderBy(this.#ctx.orderText('domain')).execute();
    return rows.map(toDomain);
  }

  /** Whether the domain is local; false (never an error) for a malformed name. */
  async exists(domain: string): Promise<boolean> {
    let d: string;
    try {
      d = normalizeDomain(domain);
    } catch (err) {
      if (err instanceof ValidationError) return false; // a name from a request that no domain can have
      throw err;
    }
    // SQLite: kept per change count, else a prepared statement run synchronously.
    const known = this.#exists.get(d, () => {
      const stmt = this.#ctx.sqliteRows('select 1 from "domains" where "domain" = ?');
      return stmt === undefined ? undefined : { value: stmt.get(d) !== undefined };
    });
    if (known !== undefined) return known.value;
    const row = await this.#ctx.db.selectFrom('domains').select('domain').where('domain', '=', d).executeTakeFirst();
    return row !== undefined;
  }

  /** One domain; NotFoundError when unknown. */
  async show(domain: string): Promise<Domain> {
    const d = normalizeDomain(domain);
    const row = await this.#ctx.db.selectFrom('domains').selectAll().where('domain', '=', d).executeTakeFirst();
    if (row === undefined) throw new NotFoundError(`unknown domain ${d}`);
    return toDomain(row);
  }
}
