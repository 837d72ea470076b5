import pg from 'pg';
import { maskUrl } from '../../src/store/index.js';

/** The PostgreSQL the tests use: DATABASE_URL_TEST, else the local one (trust auth, database test). */
export const PG_URL = process.env['DATABASE_URL_TEST'] || 'postgres://postgres@127.0.0.1:5432/test';

/** A connected client, or the reason PostgreSQL cannot be used (for a test's skip message). */
export async function connectPostgres(url = PG_URL): Promise<pg.Client | string> {
  // A refused connection fails at once; a PostgreSQL slowed by a loaded machine (the suite runs two
  // files at a time, each making and dropping schemas) gets time to answer rather than a skip.
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 15_000 });
  try {
    await client.connect();
    await client.query('select 1');
    return client;
  } catch (err) {
    await client.end().catch(() => undefined);
    return `PostgreSQL not reachable at ${maskUrl(url)}: ${err instanceof Error ? err.message : String(err)} (start it with scripts/install-deps.sh, or set DATABASE_URL_TEST)`;
  }
}

/** The database URL with every connection's search_path set to `schema` (a test's own tables). */
export function schemaUrl(schema: string, base = PG_URL): string {
  const u = new URL(base);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}
