/**
 * 0009: a CDR's quality figures: the carrier gateway of the answering (or
 * last) attempt, the post-dial delay in ms, the Q.850 cause of the end, and
 * the MOS estimate of its media (null when not known).
 */
import type { Kysely, Migration } from 'kysely';

export function cdrQuality(): Migration {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema.alterTable('cdrs').addColumn('gateway', 'text').execute();
      await db.schema.alterTable('cdrs').addColumn('pdd_ms', 'integer').execute();
      await db.schema.alterTable('cdrs').addColumn('q850', 'integer').execute();
      await db.schema.alterTable('cdrs').addColumn('mos', 'real').execute();
    },
  };
}
