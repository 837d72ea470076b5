/**
 * The migrations, in order. Kysely's Migrator runs the pending ones at every
 * openStore() (a static provider: no file discovery, so the list works the
 * same from dist/ and from a bundle).
 *
 * To change the schema, add a file `NNNN_what.ts` exporting a factory like
 * `initial` below and add it here with the next number. Never edit or
 * reorder one that has shipped: a database remembers the names it ran, and a
 * store whose database ran a name this list lacks refuses to start (it was
 * migrated by a newer Trunkline).
 */
import type { Migration } from 'kysely';
import { initial } from './0001_initial.js';
import { trunking } from './0002_trunking.js';
import { security } from './0003_security.js';
import { api } from './0004_api.js';
import { locationNode } from './0005_location_node.js';
import { cdrOutbox } from './0006_cdr_outbox.js';
import { rates } from './0007_rates.js';
import { dialPlans } from './0008_dial_plans.js';
import { cdrQuality } from './0009_cdr_quality.js';
import { sellPrices } from './0010_sell_prices.js';
import { cdrLegs } from './0011_cdr_legs.js';
import type { StoreDialect } from './types.js';

export type { StoreDialect } from './types.js';

export function migrations(dialect: StoreDialect): Record<string, Migration> {
  return {
    '0001_initial': initial(dialect),
    '0002_trunking': trunking(dialect),
    '0003_security': security(dialect),
    '0004_api': api(dialect),
    '0005_location_node': locationNode(),
    '0006_cdr_outbox': cdrOutbox(dialect),
    '0007_rates': rates(dialect),
    '0008_dial_plans': dialPlans(dialect),
    '0009_cdr_quality': cdrQuality(),
    '0010_sell_prices': sellPrices(dialect),
    '0011_cdr_legs': cdrLegs(),
  };
}
