/**
 * 0011: a CDR's legs and times for billing: both legs' Call-IDs (the
 * caller's dialog and ours toward the callee: what each side's own records
 * carry), the ring time (first ringing to the answer or the end) and the
 * answered duration, in milliseconds.
 */
import type { Kysely, Migration } from 'kysely';

export function cdrLegs(): Migration {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema.alterTable('cdrs').addColumn('a_call_id', 'text').execute();
      await db.schema.alterTable('cdrs').addColumn('b_call_id', 'text').execute();
      await db.schema.alterTable('cdrs').addColumn('ring_ms', 'integer').execute();
      await db.schema.alterTable('cdrs').addColumn('duration_ms', 'integer').execute();
    },
  };
}
