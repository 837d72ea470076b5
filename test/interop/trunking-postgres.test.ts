import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { haveCommand } from '../helpers/sipp.js';
import { connectPostgres, schemaUrl } from '../helpers/postgres.js';
import { trunkingSuite } from '../helpers/trunking-suite.js';

/**
 * The trunk-call suite on PostgreSQL (a schema of its own, dropped after).
 * Skipped, with the reason, without SIPp or when PostgreSQL does not answer.
 */
const sippSkip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';
const admin: pg.Client | string = sippSkip === false ? await connectPostgres() : sippSkip;
const schema = `tl_trunk_${process.pid}_${randomBytes(3).toString('hex')}`;

trunkingSuite({
  label: 'PostgreSQL',
  skip: typeof admin === 'string' ? admin : false,
  async prepare() {
    await (admin as pg.Client).query(`create schema ${schema}`);
    const url = schemaUrl(schema);
    return { database: url, config: { kind: 'postgres', url } };
  },
  async cleanup() {
    const client = admin as pg.Client;
    await client.query(`drop schema if exists ${schema} cascade`);
    await client.end();
  },
});
