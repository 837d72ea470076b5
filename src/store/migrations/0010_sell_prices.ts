/**
 * 0010: what accounts pay (sell prices).
 *
 * - account_prices: an account's price per dialled-number prefix, as a
 *   carrier's rate deck has them (0007_rates): money in micro-units, the
 *   increments in seconds, effective_at in ms since the epoch (0: always).
 *   A sell deck is small (a customer's price list): one table, no decks.
 * - accounts.sell_below_cost: 1 lets the account's calls through when the
 *   cheapest carrier costs more than it pays (else they are refused).
 * - cdrs.price: the sell price of an answered call (micro-units); null
 *   when the account has no price for the number.
 */
import { type Kysely, type Migration } from 'kysely';
import { columnTypes, type StoreDialect } from './types.js';

export function sellPrices(dialect: StoreDialect): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('account_prices')
        .addColumn('account', 'text', (c) => c.notNull().references('accounts.name').onDelete('cascade'))
        .addColumn('prefix', 'text', (c) => c.notNull())
        .addColumn('effective_at', t.int64, (c) => c.notNull())
        .addColumn('rate', t.int64, (c) => c.notNull())
        .addColumn('fee', t.int64, (c) => c.notNull())
        .addColumn('first_incr', 'integer', (c) => c.notNull())
        .addColumn('next_incr', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('account_prices_pk', ['account', 'prefix', 'effective_at'])
        .execute();
      await db.schema
        .alterTable('accounts')
        .addColumn('sell_below_cost', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable('cdrs').addColumn('price', t.int64).execute();
    },
  };
}
