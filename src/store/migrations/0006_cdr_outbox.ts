/**
 * 0006: cdr_outbox, the CDRs still to be POSTed to the CDR webhook
 * (`cdr.webhook`), one row per CDR written in the same transaction as the
 * CDR itself (src/store/repos/cdrs.ts) and deleted once the receiver took
 * it (src/cdr/webhook.ts). `next_at`: when it is due (null: parked after
 * too many refusals); `claim`: the sender holding it until `next_at`.
 */
import type { Kysely, Migration } from 'kysely';
import { columnTypes, type StoreDialect } from './types.js';

export function cdrOutbox(dialect: StoreDialect): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<any>): Promise<void> {
      await t
        .id(db.schema.createTable('cdr_outbox'))
        .addColumn('call_sid', 'text', (c) => c.notNull().unique())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('refusals', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_at', t.int64)
        .addColumn('claim', 'text')
        .addColumn('last_error', 'text')
        .addColumn('created_at', t.int64, (c) => c.notNull())
        .execute();
      // The sender takes the due rows in this order.
      await db.schema.createIndex('cdr_outbox_due').on('cdr_outbox').columns(['next_at', 'id']).execute();
      await db.schema.createIndex('cdr_outbox_claim').on('cdr_outbox').column('claim').execute();
    },
  };
}
