/**
 * DIDs: E.164 numbers (`+912240001234`) or number prefixes (`+9122400012*`)
 * pointed at a trunk, and so owned by the trunk's account. A DID is unique:
 * one row per number or prefix, whoever owns it. Lookups by number (exact,
 * then the longest prefix) are the directory's job (src/trunking/directory.ts),
 * from memory.
 */
import type { StoreContext } from '../context.js';
import { ConflictError, NotFoundError, isForeignKeyViolation } from '../errors.js';
import type { DidTable } from '../schema.js';
import type { Did } from '../../trunking/model.js';
import { checkName, parseDid } from '../../trunking/validate.js';

/** A DID with the account of its trunk, as listed. */
export interface DidRow extends Did {
  account: string;
}

export function toDid(row: DidTable): Did {
  return { number: row.number, trunk: row.trunk, createdAt: row.created_at };
}

/** A row of #joined() as listed. */
const toRow = (r: Pick<DidTable, 'number' | 'trunk' | 'created_at'> & { account: string }): DidRow => ({
  ...toDid(r),
  account: r.account,
});

export class DidRepo {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  #joined() {
    return this.#ctx.db
      .selectFrom('dids')
      .innerJoin('trunks', 'trunks.name', 'dids.trunk')
      .select(['dids.number', 'dids.trunk', 'dids.created_at', 'trunks.account']);
  }

  /** Points NUMBER at TRUNK. NotFoundError for an unknown trunk, ConflictError when the DID exists. */
  async add(number: string, trunk: string): Promise<DidRow> {
    const n = parseDid(number, 'number').number;
    const t = checkName(trunk, 'trunk');
    const now = this.#ctx.now();
    try {
      return await this.#ctx.write(async (db) => {
        const tr = await db.selectFrom('trunks').select('account').where('name', '=', t).executeTakeFirst();
        if (tr === undefined) throw new NotFoundError(`unknown trunk ${t}`);
        const row = await db
          .insertInto('dids')
          .values({ number: n, trunk: t, created_at: now })
          .onConflict((oc) => oc.column('number').doNothing())
          .returningAll()
          .executeTakeFirst();
        if (row === undefined) {
          const other = await db.selectFrom('dids').select('trunk').where('number', '=', n).executeTakeFirst();
          throw new ConflictError(`DID ${n} exists${other !== undefined ? ` (trunk ${other.trunk})` : ''}`);
        }
        return { ...toDid(row), account: tr.account };
      });
    } catch (err) {
      if (isForeignKeyViolation(err)) throw new NotFoundError(`unknown trunk ${t}`);
      throw err;
    }
  }

  /** Removes a DID and returns it; NotFoundError when unknown. */
  async rm(number: string): Promise<DidRow> {
    const n = parseDid(number, 'number').number;
    return this.#ctx.write(async (db) => {
      const row = await db
        .selectFrom('dids')
        .innerJoin('trunks', 'trunks.name', 'dids.trunk')
        .select(['dids.number', 'dids.trunk', 'dids.created_at', 'trunks.account'])
        .where('dids.number', '=', n)
        .executeTakeFirst();
      if (row === undefined) throw new NotFoundError(`unknown DID ${n}`);
      await db.deleteFrom('dids').where('number', '=', n).execute();
      return { ...toDid(row), account: row.account };
    });
  }

  /**
   * Points an existing DID at another trunk (and so that trunk's account);
   * NotFoundError for an unknown DID or trunk.
   */
  async move(number: string, trunk: string): Promise<DidRow> {
    const n = parseDid(number, 'number').number;
    const t = checkName(trunk, 'trunk');
    try {
      return await this.#ctx.write(async (db) => {
        const found = await db.selectFrom('dids').select('number').where('number', '=', n).executeTakeFirst();
        if (found === undefined) throw new NotFoundError(`unknown DID ${n}`);
        const tr = await db.selectFrom('trunks').select('account').where('name', '=', t).executeTakeFirst();
        if (tr === undefined) throw new NotFoundError(`unknown trunk ${t}`);
        const row = await db
          .updateTable('dids')
          .set({ trunk: t })
          .where('number', '=', n)
          .returningAll()
          .executeTakeFirstOrThrow();
        return { ...toDid(row), account: tr.account };
      });
    } catch (err) {
      if (isForeignKeyViolation(err)) throw new NotFoundError(`unknown trunk ${t}`);
      throw err;
    }
  }

  /** Every DID, by number; with `trunk` or `account`, only theirs (NotFoundError when unknown); `after` and `limit` give one page. */
  async list(opts: { trunk?: string; account?: string; after?: string; limit?: number } = {}): Promise<DidRow[]> {
    const db = this.#ctx.db;
    let q = this.#joined().orderBy(this.#ctx.orderText('dids.number'));
    if (opts.after !== undefined) q = q.where(this.#ctx.afterText('dids.number', opts.after));
    if (opts.limit !== undefined) q = q.limit(opts.limit);
    if (opts.trunk !== undefined) {
      const t = checkName(opts.trunk, 'trunk');
      if ((await db.selectFrom('trunks').select('name').where('name', '=', t).executeTakeFirst()) === undefined) {
        throw new NotFoundError(`unknown trunk ${t}`);
      }
      q = q.where('dids.trunk', '=', t);
    }
    if (opts.account !== undefined) {
      const a = checkName(opts.account, 'account');
      if ((await db.selectFrom('accounts').select('name').where('name', '=', a).executeTakeFirst()) === undefined) {
        throw new NotFoundError(`unknown account ${a}`);
      }
      q = q.where('trunks.account', '=', a);
    }
    return (await q.execute()).map(toRow);
  }

  /** One DID (a number or a prefix, as written when added); NotFoundError when unknown. */
  async show(number: string): Promise<DidRow> {
    const n = parseDid(number, 'number').number;
    const r = await this.#joined().where('dids.number', '=', n).executeTakeFirst();
    if (r === undefined) throw new NotFoundError(`unknown DID ${n}`);
    return toRow(r);
  }
}
