/**
 * Sell prices (src/store/repos/prices.ts, migration 0010_sell_prices) on
 * SQLite and PostgreSQL: an account's prices imported from a rate deck's
 * CSV (added or replaced, all or nothing), the longest prefix in force
 * matched, removed with the account; the account's sellBelowCost flag; the
 * CDR's price kept; and the check the planner and `route explain` share
 * (src/trunking/dialled.ts profitRefusal), and the CDR's price and cost
 * (src/trunking/cost.ts pricedCdr).
 */
import { test, describe, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { openStore, type Store } from '../../src/store/index.js';
import { NotFoundError } from '../../src/store/errors.js';
import { RateFileError, readRateCsv } from '../../src/trunking/rate-csv.js';
import { profitRefusal, refusalText } from '../../src/trunking/dialled.js';
import { pricedCdr } from '../../src/trunking/cost.js';
import type { Account, Carrier, Cdr, RateMatch } from '../../src/trunking/model.js';
import type { RouteOrder } from '../../src/trunking/route-order.js';
import { type Backend, postgresBackend, postgresSkip, sqliteBackend } from '../helpers/backends.js';

async function* chunks(text: string): AsyncGenerator<string> {
  yield text;
}

const D2099 = Date.UTC(2099, 0, 1);

function suite(backend: Backend, skip: () => string | false): void {
  async function open(t: TestContext): Promise<Store> {
    const s = await openStore(await backend.fresh(), { env: {} });
    t.after(() => s.close());
    await s.accounts.add({ name: 'acme' });
    return s;
  }
  const opts = () => ({ skip: skip() });
  const load = (s: Store, csv: string, replace = false) =>
    s.prices.import('acme', readRateCsv(chunks(csv)), { replace });

  test('import, longest prefix in force, add or replace, rm', opts(), async (t) => {
    const s = await open(t);
    const r = await load(
      s,
      'prefix,rate,increment,fee,effective\n44,0.02,60/60,,\n4420,0.015,1/1,0.01,\n4420,0.5,,,2099-01-01\n',
    );
    assert.deepEqual(r, { account: 'acme', imported: 3, total: 3, replaced: false });
    const m = await s.prices.match('acme', '+442071230000', Date.now());
    assert.deepEqual(m, {
      carrier: 'acme',
      prefix: '+4420',
      rate: 15_000,
      fee: 10_000,
      first: 1,
      next: 1,
      effectiveAt: 0,
    });
    assert.equal((await s.prices.match('acme', '+442071230000', D2099))?.rate, 500_000);
    assert.equal((await s.prices.match('acme', '+443000000000', Date.now()))?.prefix, '+44');
    assert.equal(await s.prices.match('acme', '+15551230000', Date.now()), null);
    assert.equal(await s.prices.match('other', '+442071230000', Date.now()), null);
    // Added: the same prefix and date replaced, the rest kept.
    assert.equal((await load(s, 'prefix,rate\n44,0.03\n')).total, 3);
    assert.equal((await s.prices.match('acme', '+443000000000', Date.now()))?.rate, 30_000);
    assert.deepEqual(await load(s, 'prefix,rate\n1,0.01\n', true), {
      account: 'acme',
      imported: 1,
      total: 1,
      replaced: true,
    });
    assert.deepEqual(
      (await s.prices.list('acme')).map((p) => p.prefix),
      ['+1'],
    );
    await assert.rejects(
      load(s, 'prefix,rate\n44,0.02\n44,0.03\n'),
      (e: unknown) => e instanceof RateFileError && /line 3: .*twice/.test(e.message),
    );
    await assert.rejects(load(s, 'prefix,rate\n44,x\n'), RateFileError);
    assert.deepEqual(
      (await s.prices.list('acme')).map((p) => p.prefix),
      ['+1'],
      'a bad file imports nothing',
    );
    await assert.rejects(s.prices.import('nobody', readRateCsv(chunks('prefix,rate\n1,1\n'))), NotFoundError);
    assert.equal(await s.prices.rm('acme', '1'), 1);
    await load(s, 'prefix,rate\n44,0.02\n');
    await s.accounts.rm('acme');
    await s.accounts.add({ name: 'acme' });
    assert.deepEqual(await s.prices.list('acme'), [], 'removed with the account');
  });

  test('the account flag and the CDR price', opts(), async (t) => {
    const s = await open(t);
    assert.equal((await s.accounts.show('acme')).sellBelowCost, false);
    assert.equal((await s.accounts.update('acme', { sellBelowCost: true })).sellBelowCost, true);
    assert.equal((await s.accounts.add({ name: 'b', sellBelowCost: true })).sellBelowCost, true);
    const cdr: Cdr = { ...CDR, callSid: 'CAprice1', price: 25_000, cost: 20_000 };
    await s.cdrs.insert(cdr);
    const back = (await s.cdrs.list({})).cdrs.find((c) => c.callSid === 'CAprice1');
    assert.deepEqual([back?.price, back?.cost], [25_000, 20_000]);
  });
}

const CDR: Cdr = {
  callSid: 'CA1',
  account: 'acme',
  trunk: null,
  carrier: 'cheap',
  direction: 'outbound',
  from: '+14155550100',
  to: '+442071230000',
  startAt: 1_000,
  answerAt: 2_000,
  endAt: 9_000,
  duration: 7,
  status: 200,
  reason: 'OK',
  hangupBy: 'caller',
  extra: null,
};

describe('sell prices', () => {
  const sqlite = sqliteBackend('prices');
  after(() => sqlite.cleanup());
  suite(sqlite, () => false);
});

const pgSkip = await postgresSkip();

describe('sell prices on PostgreSQL', () => {
  const pg = postgresBackend('prices');
  after(() => pg.cleanup());
  suite(pg, () => pgSkip);
});

const rate = (carrier: string, micros: number, prefix = '+44', first = 60, next = 60): RateMatch => ({
  carrier,
  prefix,
  rate: micros,
  fee: 0,
  first,
  next,
  effectiveAt: 0,
});

function placed(name: string, r: RateMatch | null): RouteOrder['ordered'][number] {
  const carrier = { name, gateways: [] } as unknown as Carrier;
  return { carrier, rate: r, weight: null, why: '' };
}

test('not profitable: the cheapest carrier against what the account pays, unless it may sell below cost', () => {
  const acme: Account = { name: 'acme', cpm: null, maxCalls: null, createdAt: 0 };
  const order: RouteOrder = {
    ordered: [placed('dear', rate('dear', 30_000)), placed('norate', null), placed('cheap', rate('cheap', 20_000))],
    leftOut: [],
  };
  const r = profitRefusal(order, rate('acme', 15_000, '+4420'), acme);
  assert.equal(
    refusalText(r!),
    '403: Not profitable (the cheapest carrier, cheap, costs 0.02/min; account acme pays 0.015/min for +4420)',
  );
  assert.equal(r!.cause, 'not-profitable');
  assert.equal(profitRefusal(order, rate('acme', 20_000), acme), null, 'at cost: let through');
  assert.equal(profitRefusal(order, rate('acme', 15_000), { ...acme, sellBelowCost: true }), null);
  assert.equal(profitRefusal(order, null, acme), null, 'no price: not checked');
  assert.equal(profitRefusal({ ordered: [placed('norate', null)], leftOut: [] }, rate('acme', 1), acme), null);
});

test("the CDR's price by the account's price and increments, beside the cost", async () => {
  const rates = async () => new Map([['cheap', rate('cheap', 60_000)]]);
  // 7 s: the carrier bills 60/60 (60 s: 0.06), the account pays 0.12/min by 1/1 (7 s: 0.014).
  const prices = async (a: string) => (a === 'acme' ? rate('acme', 120_000, '+44', 1, 1) : null);
  const c = await pricedCdr(CDR, rates, prices);
  assert.deepEqual([c.cost, c.billed, c.price], [60_000, 60, 14_000]);
  const none = await pricedCdr({ ...CDR, account: 'other' }, rates, prices);
  assert.deepEqual([none.cost, none.price], [60_000, undefined]);
  const unanswered = await pricedCdr({ ...CDR, answerAt: null, status: 486, duration: 0 }, rates, prices);
  assert.equal(unanswered.price, undefined);
});
