/** Column types that differ between the two dialects, for the migrations. */
import type { CreateTableBuilder } from 'kysely';

export type StoreDialect = 'sqlite' | 'postgres';

export interface ColumnTypes {
  /** A 64-bit integer (times in ms, ids): SQLite INTEGER, PostgreSQL BIGINT. */
  int64: 'integer' | 'bigint';
  /** Adds `id`, an auto-incrementing primary key (never reused on SQLite). */
  id<T extends string>(table: CreateTableBuilder<T, never>): CreateTableBuilder<T, 'id'>;
}

export function columnTypes(dialect: StoreDialect): ColumnTypes {
  if (dialect === 'postgres') {
    return {
      int64: 'bigint',
      id: (table) => table.addColumn('id', 'bigserial', (c) => c.primaryKey()),
    };
  }
  return {
    int64: 'integer',
    id: (table) => table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement()),
  };
}
