/**
 * The rate repository (src/store/repos/rates.ts) against SQLite and
 * PostgreSQL: a deck imported whole or not at all (a bad line after many
 * batches leaves the deck before and no stray rows), --replace and merge,
 * effective dates (the newest row in force wins, the longest prefix in
 * force wins), show and rm, a carrier's removal taking its rates, routes
 * with a mode, and the time a 100,000-row deck takes (bounded).
 */
import { test, describe, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/store/index.js';
import { ConflictError, NotFoundError, ValidationError } from '../../src/store/errors.js';
import { RateFileError, readRateCsv } from '../../src/trunking/rate-csv.js';
import { type Backend, postgresBackend, postgresSkip, sqliteBackend } from '../helpers/backends.js';

async function* chunks(text: string, size = 7): AsyncGenerator<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}

/** Imports CSV text; small batches (3 rows) so that a deck of a few lines spans several transactions. */
function importCsv(s: Store, carrier: string, text: string, replace = false) {
  return s.rates.import(carrier, readRateCsv(chunks(text), undefined, 3), { replace, source: 'test.csv' });
}

async function rejects<E extends Error>(
  p: Promise<unknown>,
  type: abstract new (...a: never[]) => E,
  message: string | RegExp,
) {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return;
  }
  assert.fail(`expected ${type.name} (${String(message)})`);
}

const D2026 = Date.UTC(2026, 0, 1);
const D2099 = Date.UTC(2099, 0, 1);

function suite(backend: Backend, skip: () => string | false): void {
  async function open(t: TestContext): Promise<Store> {
    const s = await openStore(await backend.fresh(), { env: {} });
    t.after(() => s.close());
    await s.carriers.add({ name: 'a', gateways: ['sip:127.0.0.5:5080'] });
    await s.carriers.add({ name: 'b', gateways: ['sip:127.0.0.6:5080'] });
    return s;
  }
  const opts = () => ({ skip: skip() });
  const rowsInTable = async (s: Store): Promise<number> =>
    Number((await sql<{ n: number }>`select count(*) as n from rates`.execute(s.db)).rows[0]!.n);
  const decksInTable = async (s: Store): Promise<string[]> =>
    (await s.db.selectFrom('rate_decks').select(['carrier', 'state']).orderBy('id').execute()).map(
      (d) => `${d.carrier}:${d.state}`,
    );

  test(`${backend.name}: import, match by the longest prefix, list, decks`, opts(), async (t) => {
    const s = await open(t);
    const r = await importCsv(
      s,
      'a',
      'prefix,rate,increment,fee\n44,0.02,60/60,\n4420,0.01,30/6,0.05\n1,0.005,1/1,\n49,0.03,,\n',
    );
    assert.deepEqual(r, { carrier: 'a', imported: 4, total: 4, replaced: false });
    await importCsv(s, 'b', 'prefix,rate\n44,0.015\n');
    const m = await s.rates.match(['a', 'b', 'c'], '+442071234567', Date.now());
    assert.deepEqual(Object.fromEntries(m), {
      a: { carrier: 'a', prefix: '+4420', rate: 10_000, fee: 50_000, first: 30, next: 6, effectiveAt: 0 },
      b: { carrier: 'b', prefix: '+44', rate: 15_000, fee: 0, first: 60, next: 60, effectiveAt: 0 },
    });
    assert.deepEqual([...(await s.rates.match(['a', 'b'], '+33123', Date.now())).keys()], []);
    assert.deepEqual(
      (await s.rates.list({ carrier: 'a' })).map((x) => x.prefix),
      ['+1', '+44', '+4420', '+49'],
    );
    assert.deepEqual(
      (await s.rates.list({ prefix: '+44' })).map((x) => `${x.carrier}${x.prefix}`),
      ['a+44', 'a+4420', 'b+44'],
    );
    assert.deepEqual(
      (await s.rates.list({ after: { carrier: 'a', prefix: '+44', effectiveAt: 0 }, limit: 2 })).map(
        (x) => `${x.carrier}${x.prefix}`,
      ),
      ['a+4420', 'a+49'],
    );
    assert.deepEqual(
      (await s.rates.decks()).map((d) => [d.carrier, d.rows, d.source]),
      [
        ['a', 4, 'test.csv'],
        ['b', 1, 'test.csv'],
      ],
    );
    await rejects(importCsv(s, 'ghost', 'prefix,rate\n1,1\n'), NotFoundError, 'unknown carrier ghost');
    await rejects(s.rates.list({ carrier: 'ghost' }), NotFoundError, 'unknown carrier ghost');
    assert.deepEqual(await decksInTable(s), ['a:active', 'b:active']);
  });

  test(
    `${backend.name}: a bad line after several batches imports nothing; the deck before stays`,
    opts(),
    async (t) => {
      const s = await open(t);
      await importCsv(s, 'a', 'prefix,rate\n44,0.02\n33,0.03\n');
      const lines = ['prefix,rate'];
      for (let i = 0; i < 20; i++) lines.push(`${100 + i},0.01`);
      lines.push('999,abc');
      await rejects(
        importCsv(s, 'a', `${lines.join('\n')}\n`, true),
        RateFileError,
        'line 22, column 2 (rate): a price per minute: expected a decimal number like 0.0125, got "abc"',
      );
      // A prefix and date twice, in different batches.
      await rejects(
        importCsv(s, 'a', 'prefix,rate,effective\n1,1,\n2,1,\n3,1,\n4,1,2026-01-01\n5,1,\n4,2,2026-01-01\n'),
        RateFileError,
        'line 7: prefix +4 with effective 2026-01-01T00:00:00.000Z is in the file twice',
      );
      // ... and in the same batch.
      await rejects(
        importCsv(s, 'a', 'prefix,rate\n7,1\n+7,2\n'),
        RateFileError,
        'line 3: prefix +7 with no effective date is in the file twice',
      );
      assert.deepEqual(
        (await s.rates.list({ carrier: 'a' })).map((x) => [x.prefix, x.rate]),
        [
          ['+33', 30_000],
          ['+44', 20_000],
        ],
      );
      // No stray deck and no stray row.
      assert.deepEqual(await decksInTable(s), ['a:active']);
      assert.equal(await rowsInTable(s), 2);
    },
  );

  test(`${backend.name}: --replace swaps the deck; without it rows are added or replaced`, opts(), async (t) => {
    const s = await open(t);
    await importCsv(s, 'a', 'prefix,rate\n44,0.02\n33,0.03\n');
    const changes = await s.changes();
    let r = await importCsv(s, 'a', 'prefix,rate\n44,0.025\n49,0.04\n');
    assert.deepEqual(r, { carrier: 'a', imported: 2, total: 3, replaced: false });
    assert.notEqual(await s.changes(), changes, 'a running server learns of the new deck');
    assert.deepEqual(
      (await s.rates.list({ carrier: 'a' })).map((x) => [x.prefix, x.rate]),
      [
        ['+33', 30_000],
        ['+44', 25_000],
        ['+49', 40_000],
      ],
    );
    r = await importCsv(s, 'a', 'prefix,rate\n1,0.001\n', true);
    assert.deepEqual(r, { carrier: 'a', imported: 1, total: 1, replaced: true });
    assert.deepEqual(
      (await s.rates.list({ carrier: 'a' })).map((x) => x.prefix),
      ['+1'],
    );
    // The decks before were removed, their rows with them.
    assert.deepEqual(await decksInTable(s), ['a:active']);
    assert.equal(await rowsInTable(s), 1);
  });

  test(
    `${backend.name}: effective dates: the newest row in force wins, and the longest prefix in force`,
    opts(),
    async (t) => {
      const s = await open(t);
      await importCsv(
        s,
        'a',
        'prefix,rate,effective\n44,0.02,\n44,0.015,2026-01-01\n44,0.001,2099-01-01\n4420,0.5,2099-01-01\n',
      );
      const at = async (time: number) => {
        const m = (await s.rates.match(['a'], '+442071234567', time)).get('a');
        return m === undefined ? null : [m.prefix, m.rate, m.effectiveAt];
      };
      assert.deepEqual(await at(D2026 - 1), ['+44', 20_000, 0]);
      assert.deepEqual(await at(D2026), ['+44', 15_000, D2026]);
      // +4420 exists but starts in 2099: until then +44 prices the number.
      assert.deepEqual(await at(D2099 - 1), ['+44', 15_000, D2026]);
      assert.deepEqual(await at(D2099), ['+4420', 500_000, D2099]);
      const show = await s.rates.show('a', '+442071234567', D2099 - 1);
      assert.deepEqual(
        [show.prefix, show.rows.map((r) => r.rate), show.inForce?.rate],
        ['+4420', [500_000], undefined],
      );
      assert.equal(show.inForce, null);
      const show44 = await s.rates.show('a', '44', D2026 + 1);
      assert.deepEqual(
        [show44.prefix, show44.rows.map((r) => r.rate), show44.inForce?.rate],
        ['+44', [1000, 15_000, 20_000], 15_000],
      );
      await rejects(s.rates.show('a', '+33'), NotFoundError, 'carrier a has no rate for +33');
      await rejects(s.rates.show('b', '+44'), NotFoundError, 'carrier b has no rates');
    },
  );

  test(`${backend.name}: rm a prefix, rm a deck; a carrier removed takes its rates`, opts(), async (t) => {
    const s = await open(t);
    await importCsv(s, 'a', 'prefix,rate,effective\n44,0.02,\n44,0.01,2026-01-01\n33,0.03,\n');
    await importCsv(s, 'b', 'prefix,rate\n44,0.02\n');
    assert.equal(await s.rates.rm('a', '44'), 2);
    await rejects(s.rates.rm('a', '44'), NotFoundError, 'carrier a has no rate for prefix +44');
    assert.deepEqual(
      (await s.rates.decks()).map((d) => [d.carrier, d.rows]),
      [
        ['a', 1],
        ['b', 1],
      ],
    );
    assert.equal(await s.rates.rm('a'), 1);
    await rejects(s.rates.rm('a'), NotFoundError, 'carrier a has no rates');
    await rejects(s.rates.rm('ghost'), NotFoundError, 'unknown carrier ghost');
    await rejects(s.rates.rm('a', 'x'), ValidationError, /^prefix: /);
    assert.equal(await rowsInTable(s), 1);
    await s.carriers.rm('b');
    assert.equal(await rowsInTable(s), 0);
    assert.deepEqual(await decksInTable(s), []);
  });

  test(`${backend.name}: routes keep a mode and weights`, opts(), async (t) => {
    const s = await open(t);
    let r = await s.routes.add('+44', ['a', 'b'], { mode: 'lcr' });
    assert.deepEqual([r.mode, r.weights], ['lcr', null]);
    r = await s.routes.add('+33', ['a', 'b'], { mode: 'weighted', weights: [3, 1] });
    assert.deepEqual([r.mode, r.weights], ['weighted', [3, 1]]);
    r = await s.routes.add('+', ['a', 'b'], { mode: 'weighted' });
    assert.deepEqual(r.weights, [1, 1]);
    assert.deepEqual(
      (await s.routes.list()).map((x) => [x.prefix, x.mode, x.carriers, x.weights]),
      [
        ['+', 'weighted', ['a', 'b'], [1, 1]],
        ['+33', 'weighted', ['a', 'b'], [3, 1]],
        ['+44', 'lcr', ['a', 'b'], null],
      ],
    );
    // update keeps the mode unless given.
    r = await s.routes.update('+44', ['b', 'a']);
    assert.deepEqual([r.mode, r.carriers], ['lcr', ['b', 'a']]);
    r = await s.routes.update('+33', ['b'], { mode: 'priority' });
    assert.deepEqual([r.mode, r.weights], ['priority', null]);
    await rejects(
      s.routes.add('+1', ['a'], { mode: 'cheap' as never }),
      ValidationError,
      /^mode: expected one of priority, lcr, weighted/,
    );
    await rejects(
      s.routes.add('+1', ['a'], { weights: [2] }),
      ValidationError,
      'weights: weights go with mode weighted (this route is priority)',
    );
    await rejects(
      s.routes.add('+1', ['a', 'b'], { mode: 'weighted', weights: [2] }),
      ValidationError,
      'weights: expected one weight per carrier (2)',
    );
    await rejects(
      s.routes.add('+1', ['a'], { mode: 'weighted', weights: [0] }),
      ValidationError,
      /^weights: expected whole numbers from 1/,
    );
    assert.deepEqual((await s.routes.rm('+')).weights, [1, 1]);
    await rejects(s.routes.add('+44', ['a']), ConflictError, 'route +44 exists');
  });

  test(`${backend.name}: 100,000 rows import in bounded time, then merge 1 row into them`, opts(), async (t) => {
    const s = await open(t);
    const lines = ['prefix,rate,increment,effective'];
    for (let i = 0; i < 100_000; i++)
      lines.push(
        `${1_000_000 + i * 7},0.${String(i % 9999).padStart(4, '0')},${i % 3 === 0 ? '30/6' : '60/60'},${i % 5 === 0 ? '2026-01-01' : ''}`,
      );
    const text = `${lines.join('\n')}\n`;
    async function* big(): AsyncGenerator<string> {
      for (let i = 0; i < text.length; i += 65_536) yield text.slice(i, i + 65_536);
    }
    let t0 = performance.now();
    const r = await s.rates.import('a', readRateCsv(big()), { replace: true });
    const ms = performance.now() - t0;
    assert.deepEqual([r.imported, r.total], [100_000, 100_000]);
    t.diagnostic(`${backend.name}: 100,000 rows in ${Math.round(ms)} ms (${Math.round(100_000 / (ms / 1000))} rows/s)`);
    assert.ok(ms < 60_000, `took ${ms} ms`);
    const m = (await s.rates.match(['a'], '+10000071234', Date.now())).get('a');
    assert.deepEqual([m?.prefix, m?.rate], ['+1000007', 100]);
    t0 = performance.now();
    const merged = await importCsv(s, 'a', 'prefix,rate\n1000007,0.5\n');
    t.diagnostic(`${backend.name}: merge of 1 row into 100,000 in ${Math.round(performance.now() - t0)} ms`);
    assert.deepEqual([merged.imported, merged.total], [1, 100_000]);
    assert.equal((await s.rates.match(['a'], '+10000071234', Date.now())).get('a')?.rate, 500_000);
    assert.equal(await rowsInTable(s), 100_000);
  });
}

describe('rate decks', () => {
  const sqlite = sqliteBackend('rates');
  after(() => sqlite.cleanup());
  suite(sqlite, () => false);
});

const pgSkip = await postgresSkip();

describe('rate decks on PostgreSQL', () => {
  const pg = postgresBackend('rates');
  after(() => pg.cleanup());
  suite(pg, () => pgSkip);
});
