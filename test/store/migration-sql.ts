/**
 * The SQL every migration sends, per dialect, recorded without a database
 * (kysely's DummyDriver): one line per statement, its parameters after it.
 */
import {
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type Dialect,
} from 'kysely';
import { migrations, type StoreDialect } from '../../src/store/migrations/index.js';

function dummy(dialect: StoreDialect): Dialect {
  return dialect === 'postgres'
    ? {
        createAdapter: () => new PostgresAdapter(),
        createDriver: () => new DummyDriver(),
        createIntrospector: (db) => new PostgresIntrospector(db),
        createQueryCompiler: () => new PostgresQueryCompiler(),
      }
    : {
        createAdapter: () => new SqliteAdapter(),
        createDriver: () => new DummyDriver(),
        createIntrospector: (db) => new SqliteIntrospector(db),
        createQueryCompiler: () => new SqliteQueryCompiler(),
      };
}

/** `-- NAME` before each migration's statements. */
export async function migrationSql(dialect: StoreDialect): Promise<string> {
  const lines: string[] = [];
  const db = new Kysely<any>({
    dialect: dummy(dialect),
    log: (e) => {
      if (e.level === 'query')
        lines.push(
          e.query.parameters.length === 0 ? e.query.sql : `${e.query.sql} -- ${JSON.stringify(e.query.parameters)}`,
        );
    },
  });
  try {
    for (const [name, m] of Object.entries(migrations(dialect))) {
      lines.push(`-- ${name}`);
      await m.up(db);
    }
  } finally {
    await db.destroy();
  }
  return `${lines.join('\n')}\n`;
}
