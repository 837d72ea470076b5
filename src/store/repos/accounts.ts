/**
 * Accounts: the customers of the trunking model, with limits over all their
 * trunks (calls per minute, concurrent calls; null = unlimited).
 *
 * Removal: refused (ConflictError) while the account has trunks, unless
 * `cascade`, which removes its trunks and their DIDs in the same transaction
 * and says how many went.
 */
import { count, type StoreContext } from '../context.js';
import { ConflictError, NotFoundError, ValidationError, isForeignKeyViolation } from '../errors.js';
import type { AccountTable } from '../schema.js';
import type { Account } from '../../trunking/model.js';
import { checkName, checkOptionalLimit } from '../../trunking/validate.js';

export interface AccountInput {
  name: string;
  cpm?: number | null;
  maxCalls?: number | null;
  sellBelowCost?: boolean;
}

/** What `rm` removed along with the account (zero without cascade). */
export interface AccountRemoval {
  name: string;
  trunks: number;
  dids: number;
}

export function toAccount(row: AccountTable): Account {
  return {
    name: row.name,
    cpm: row.cpm,
    maxCalls: row.max_calls,
    createdAt: row.created_at,
    sellBelowCost: Number(row.sell_below_cost ?? 0) === 1,
  };
}

function sellBelowCost(v: unknown): number {
  if (v === undefined || v === false) return 0;
  if (v === true) return 1;
  throw new ValidationError('sellBelowCost', `expected true or false, got ${JSON.stringify(v)}`);
}

export class AccountRepo {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** Adds an account. ConflictError when the name exists. */
  async add(input: AccountInput): Promise<Account> {
    const name = checkName(input.name, 'name');
    const cpm = checkOptionalLimit(input.cpm, 'cpm');
    const maxCalls = checkOptionalLimit(input.maxCalls, 'maxCalls');
    const now = this.#ctx.now();
    return this.#ctx.write(async (db) => {
      const row = await db
        .insertInto('accounts')
        .values({
          name,
          cpm,
          max_calls: maxCalls,
          created_at: now,
          sell_below_cost: sellBelowCost(input.sellBelowCost),
        })
        .onConflict((oc) => oc.column('name').doNothing())
        .returningAll()
        .executeTakeFirst();
      if (row === undefined) throw new ConflictError(`account ${name} exists`);
      return toAccount(row);
    });
  }

  /** Changes the limits given (null clears one); NotFoundError when unknown. */
  async update(
    name: string,
    change: { cpm?: number | null; maxCalls?: number | null; sellBelowCost?: boolean },
  ): Promise<Account> {
    const n = checkName(name, 'name');
    const set: Partial<AccountTable> = {};
    if (change.cpm !== undefined) set.cpm = checkOptionalLimit(change.cpm, 'cpm');
    if (change.maxCalls !== undefined) set.max_calls = checkOptionalLimit(change.maxCalls, 'maxCalls');
    if (change.sellBelowCost !== undefined) set.sell_below_cost = sellBelowCost(change.sellBelowCost);
    return this.#ctx.write(async (db) => {
      const row =
        Object.keys(set).length === 0
          ? await db.selectFrom('accounts').selectAll().where('name', '=', n).executeTakeFirst()
          : await db.updateTable('accounts').set(set).where('name', '=', n).returningAll().executeTakeFirst();
      if (row === undefined) throw new NotFoundError(`unknown account ${n}`);
      return toAccount(row);
    });
  }

  /**
   * Removes an account. With trunks: ConflictError unless `cascade`, which
   * removes them and their DIDs too.
   */
  async rm(name: string, opts: { cascade?: boolean } = {}): Promise<AccountRemoval> {
    const n = checkName(name, 'name');
    try {
      return await this.#ctx.write(async (db) => {
        const found = await db.selectFrom('accounts').select('name').where('name', '=', n).executeTakeFirst();
        if (found === undefined) throw new NotFoundError(`unknown account ${n}`);
        const trunks = (await db.selectFrom('trunks').select('name').where('account', '=', n).execute()).map(
          (r) => r.name,
        );
        const removal: AccountRemoval = { name: n, trunks: 0, dids: 0 };
        if (trunks.length > 0) {
          if (opts.cascade !== true) {
            throw new ConflictError(
              `account ${n} has ${trunks.length} trunk${trunks.length === 1 ? '' : 's'} (${trunks.join(', ')}); remove them first, or cascade`,
            );
          }
          removal.dids = count(
            (await db.deleteFrom('dids').where('trunk', 'in', trunks).executeTakeFirst()).numDeletedRows,
          );
          removal.trunks = count(
            (await db.deleteFrom('trunks').where('account', '=', n).executeTakeFirst()).numDeletedRows,
          );
        }
        await db.deleteFrom('accounts').where('name', '=', n).execute();
        return removal;
      });
    } catch (err) {
      // A trunk added by another process between the check and the delete.
      if (isForeignKeyViolation(err)) throw new ConflictError(`account ${n} has trunks`);
      throw err;
    }
  }

  /** Every account, by name. */
  async list(): Promise<Account[]> {
    const rows = await this.#ctx.db.selectFrom('accounts').selectAll().orderBy(this.#ctx.orderText('name')).execute();
    return rows.map(toAccount);
  }

  /** One account; NotFoundError when unknown. */
  async show(name: string): Promise<Account> {
    const n = checkName(name, 'name');
    const row = await this.#ctx.db.selectFrom('accounts').selectAll().where('name', '=', n).executeTakeFirst();
    if (row === undefined) throw new NotFoundError(`unknown account ${n}`);
    return toAccount(row);
  }
}
