/**
 * Sell prices: what each account pays per dialled-number prefix (migration
 * 0010_sell_prices), in the form of a carrier's rate deck (rates.ts, the
 * same CSV reader) but kept in one small table: a customer's price list,
 * imported in one transaction.
 *
 * `match`: the account's row with the longest prefix of the number in force
 * at the time asked, and of that prefix's rows the newest in force; null
 * when the account has none (its calls to that number are not checked nor
 * priced).
 */
import type { StoreContext } from '../context.js';
import { NotFoundError } from '../errors.js';
import type { AccountPriceTable } from '../schema.js';
import type { RateMatch } from '../../trunking/model.js';
import { RateFileError, type RateFileRow, type RateRow } from '../../trunking/rate-csv.js';
import { checkName, checkRatePrefix } from '../../trunking/validate.js';
import { prefixesOf, toInfo, toRateRow } from './rate-types.js';

/** The most rows an account's prices may have (a price list, not a carrier's deck). */
export const MAX_PRICES = 100_000;

export interface PriceImportResult {
  account: string;
  imported: number;
  /** Rows of the account's prices now. */
  total: number;
  replaced: boolean;
}

export class PriceRepo {
  readonly #ctx: StoreContext;
  /** The accounts with prices, as read at a change count of the store (SQLite). */
  #priced: { changes: number; accounts: Set<string> } | null = null;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** Adds the rows to the account's prices (a row of the same prefix and date replaced), or replaces them all. */
  async import(
    account: string,
    batches: AsyncIterable<RateFileRow[]>,
    opts: { replace?: boolean } = {},
  ): Promise<PriceImportResult> {
    const a = checkName(account, 'account');
    const rows: RateFileRow[] = [];
    const seen = new Map<string, number>();
    for await (const batch of batches) {
      for (const r of batch) {
        const key = `${r.prefix} ${r.effectiveAt}`;
        if (seen.has(key))
          throw new RateFileError(
            r.line,
            null,
            null,
            `prefix ${r.prefix} is in the file twice (line ${seen.get(key)})`,
          );
        seen.set(key, r.line);
        rows.push(r);
        if (rows.length > MAX_PRICES)
          throw new RateFileError(r.line, null, null, `an account has at most ${MAX_PRICES} prices`);
      }
    }
    return this.#ctx.write(async (db) => {
      const known = await db.selectFrom('accounts').select('name').where('name', '=', a).executeTakeFirst();
      if (known === undefined) throw new NotFoundError(`unknown account ${a}`);
      if (opts.replace === true) await db.deleteFrom('account_prices').where('account', '=', a).execute();
      for (let i = 0; i < rows.length; i += 500) {
        const values = rows.slice(i, i + 500).map((r) => ({
          account: a,
          prefix: r.prefix,
          effective_at: r.effectiveAt,
          rate: r.rate,
          fee: r.fee,
          first_incr: r.first,
          next_incr: r.next,
        }));
        await db
          .insertInto('account_prices')
          .values(values)
          .onConflict((oc) =>
            oc.columns(['account', 'prefix', 'effective_at']).doUpdateSet((eb) => ({
              rate: eb.ref('excluded.rate'),
              fee: eb.ref('excluded.fee'),
              first_incr: eb.ref('excluded.first_incr'),
              next_incr: eb.ref('excluded.next_incr'),
            })),
          )
          .execute();
      }
      const total = await db
        .selectFrom('account_prices')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('account', '=', a)
        .executeTakeFirstOrThrow();
      return { account: a, imported: rows.length, total: Number(total.n), replaced: opts.replace === true };
    });
  }

  /** The account's prices by prefix, then date. */
  async list(account: string): Promise<RateRow[]> {
    const a = checkName(account, 'account');
    const rows = await this.#ctx.db
      .selectFrom('account_prices')
      .selectAll()
      .where('account', '=', a)
      .orderBy('prefix')
      .orderBy('effective_at')
      .execute();
    return rows.map(toRateRow);
  }

  /** Removes the account's prices (of one prefix); how many went. */
  async rm(account: string, prefix?: string): Promise<number> {
    const a = checkName(account, 'account');
    const p = prefix === undefined ? undefined : checkRatePrefix(prefix, 'prefix');
    return this.#ctx.write(async (db) => {
      let q = db.deleteFrom('account_prices').where('account', '=', a);
      if (p !== undefined) q = q.where('prefix', '=', p);
      return Number((await q.executeTakeFirst()).numDeletedRows);
    });
  }

  /**
   * Whether the account has any price. On SQLite the accounts with prices
   * are read once per change of the store (StoreContext.changesNow), so a
   * call of an account without prices costs no query; on PostgreSQL: true.
   */
  async #hasPrices(account: string): Promise<boolean> {
    const changes = this.#ctx.changesNow();
    if (changes === undefined) return true;
    if (this.#priced?.changes !== changes) {
      const rows = await this.#ctx.db.selectFrom('account_prices').select('account').distinct().execute();
      this.#priced = { changes, accounts: new Set(rows.map((r) => r.account)) };
    }
    return this.#priced.accounts.has(account);
  }

  /** The account's price for `number` in force at `at` (ms), or null. */
  async match(account: string, number: string, at: number): Promise<RateMatch | null> {
    if (!number.startsWith('+') || !(await this.#hasPrices(account))) return null;
    const rows = await this.#ctx.db
      .selectFrom('account_prices')
      .selectAll()
      .where('account', '=', account)
      .where('prefix', 'in', prefixesOf(number))
      .where('effective_at', '<=', at)
      .execute();
    let best: AccountPriceTable | undefined;
    for (const r of rows) {
      if (
        best === undefined ||
        r.prefix.length > best.prefix.length ||
        (r.prefix.length === best.prefix.length && Number(r.effective_at) > Number(best.effective_at))
      )
        best = r;
    }
    return best === undefined ? null : toInfo(account, best);
  }
}
