import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { haveCommand } from '../helpers/sipp.js';
import { connectPostgres, schemaUrl } from '../helpers/postgres.js';
import { registrarSuite } from '../helpers/registrar-suite.js';

/**
 * The registrar suite (test/helpers/registrar-suite.ts) on PostgreSQL:
 * DATABASE_URL_TEST or postgres://postgres@127.0.0.1:5432/test with
 * `?options=-c search_path=SCHEMA`, a random schema created here and dropped
 * afterwards. Skipped, with the reason, without SIPp or when PostgreSQL does
 * not answer.
 */
const sippSkip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';
const admin: pg.Client | string = sippSkip === false ? await connectPostgres() : sippSkip;
const schema = `tl_reg_${process.pid}_${randomBytes(3).toString('hex')}`;

registrarSuite({
  label: 'PostgreSQL',
  skip: typeof admin === 'string' ? admin : false,
  async prepare() {
    const client = admin as pg.Client;
    await client.query(`create schema ${schema}`);
    const url = schemaUrl(schema);
    return { database: url, config: { kind: 'postgres', url } };
  },
  async cleanup() {
    const client = admin as pg.Client;
    await client.query(`drop schema if exists ${schema} cascade`);
    await client.end();
  },
  async afterRegister() {
    // The rows are in the test's schema, not in public.
    const rows = (
      await (admin as pg.Client).query(`select count(*)::int as n from ${schema}.location where aor = $1`, [
        'alice@example.test',
      ])
    ).rows as Array<{ n: number }>;
    assert.equal(rows[0]?.n, 1);
  },
});
