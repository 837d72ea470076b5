/**
 * 0005: location.node_id, location.node_inc: in a cluster, the node (and its
 * incarnation: one run of it) that took the REGISTER and so holds the
 * binding's flow (its connection, its NAT mapping); null alone.
 */
import type { Kysely, Migration } from 'kysely';

export function locationNode(): Migration {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema.alterTable('location').addColumn('node_id', 'text').execute();
      await db.schema.alterTable('location').addColumn('node_inc', 'text').execute();
      await db.schema.createIndex('location_node').on('location').column('node_id').execute();
    },
  };
}
