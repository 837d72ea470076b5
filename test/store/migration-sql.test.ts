/**
 * The migrations send the SQL they sent when they shipped: databases have
 * run it already, so a refactoring of a migration must not change one byte
 * of it. test/data/migrations/DIALECT.sql holds that SQL as recorded from
 * the shipped code (test/store/migration-sql.ts records it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { migrationSql } from './migration-sql.js';

const DATA = new URL('../../../test/data/migrations/', import.meta.url);

for (const dialect of ['sqlite', 'postgres'] as const) {
  test(`migrations send the shipped SQL (${dialect})`, async () => {
    const shipped = readFileSync(new URL(`${dialect}.sql`, DATA), 'utf8');
    assert.equal(await migrationSql(dialect), shipped);
  });
}
