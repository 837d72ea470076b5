/**
 * 0008: dial plans and emergency calls (src/trunking/dial-plan.ts).
 *
 * - dial_plans: one row per plan: country code, national and international
 *   prefixes, the format numbers are sent in, the emergency numbers and the
 *   rewrite rules (JSON lists).
 * - trunks.dial_plan, carriers.dial_plan: the plan each reads and writes
 *   numbers by (null: E.164 only, as before).
 * - cdrs: the caller and callee as received (before the plan), and whether
 *   the call was an emergency call (0/1).
 */
import type { Kysely, Migration } from 'kysely';
import { columnTypes, type StoreDialect } from './types.js';

export function dialPlans(dialect: StoreDialect): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema
        .createTable('dial_plans')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('country', 'text', (c) => c.notNull())
        .addColumn('national_prefix', 'text', (c) => c.notNull())
        .addColumn('international_prefix', 'text', (c) => c.notNull())
        .addColumn('format', 'text', (c) => c.notNull())
        .addColumn('emergency', 'text', (c) => c.notNull())
        .addColumn('rules', 'text', (c) => c.notNull())
        .addColumn('created_at', t.int64, (c) => c.notNull())
        .execute();
      await db.schema
        .alterTable('trunks')
        .addColumn('dial_plan', 'text', (c) => c.references('dial_plans.name'))
        .execute();
      await db.schema
        .alterTable('carriers')
        .addColumn('dial_plan', 'text', (c) => c.references('dial_plans.name'))
        .execute();
      await db.schema.alterTable('cdrs').addColumn('from_received', 'text').execute();
      await db.schema.alterTable('cdrs').addColumn('to_received', 'text').execute();
      await db.schema
        .alterTable('cdrs')
        .addColumn('emergency', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
    },
  };
}
