/**
 * Rate decks without a database: the CSV reader (src/trunking/rate-csv.ts:
 * quoted fields, BOM, CRLF, line numbers, errors naming line and column, any
 * chunking of the input), money in micro-units and billing by increments
 * (money.ts), the order of a route's carriers by mode (route-order.ts) and
 * a CDR's price (cost.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateFileError, readRateCsv, type RateFileRow } from '../../src/trunking/rate-csv.js';
import { billedSeconds, costMicros, formatMicros, parseIncrements, parseMicros } from '../../src/trunking/money.js';
import { orderRoute } from '../../src/trunking/route-order.js';
import { pricedCdr } from '../../src/trunking/cost.js';
import type { Carrier, Cdr, RateMatch, RouteMatch } from '../../src/trunking/model.js';
import { prng } from '../helpers/prng.js';

async function read(chunks: Array<string | Buffer>): Promise<RateFileRow[]> {
  const out: RateFileRow[] = [];
  async function* src(): AsyncGenerator<string | Buffer> {
    yield* chunks;
  }
  for await (const b of readRateCsv(src(), undefined, 2)) out.push(...b);
  return out;
}

async function error(text: string): Promise<string> {
  try {
    await read([text]);
  } catch (err) {
    assert.ok(err instanceof RateFileError, String(err));
    return err.message;
  }
  assert.fail(`no error for ${JSON.stringify(text)}`);
}

const DAY = Date.UTC(2026, 2, 1);

test('a deck: header any case and order, BOM, CRLF, quoted fields with commas, quotes and line breaks', async () => {
  const text =
    '\ufeffEffective,RATE,Prefix,Description,increment,FEE\r\n' +
    '2026-03-01,0.0125,44,"United Kingdom, fixed",30/6,0.01\r\n' +
    '\r\n' +
    ',"0.5",+4420,"London ""inner""\r\nzone",1/1,\r\n' +
    '2026-03-01T08:00:00+01:00, 1.000000 ,1,"",,\r\n' +
    ',,,,,\n';
  const rows = await read([text]);
  assert.deepEqual(rows, [
    { line: 2, prefix: '+44', rate: 12_500, fee: 10_000, first: 30, next: 6, effectiveAt: DAY },
    { line: 4, prefix: '+4420', rate: 500_000, fee: 0, first: 1, next: 1, effectiveAt: 0 },
    // The quoted line break counted: this record starts on line 6.
    { line: 6, prefix: '+1', rate: 1_000_000, fee: 0, first: 60, next: 60, effectiveAt: DAY + 7 * 3_600_000 },
  ]);
});

test('the same deck split at every byte gives the same rows (chunks of a stream, UTF-8 split mid-character)', async () => {
  const text = 'prefix,rate,note\r\n44,0.01,"é, ""x""\r\ny"\r\n33,0.02,ü\r\n49,0.03,"end"';
  const whole = await read([text]);
  const bytes = Buffer.from(text, 'utf8');
  for (let cut = 1; cut < bytes.length; cut++) {
    assert.deepEqual(await read([bytes.subarray(0, cut), bytes.subarray(cut)]), whole, `cut at ${cut}`);
  }
  assert.deepEqual(await read([...bytes].map((b) => Buffer.from([b]))), whole);
  assert.deepEqual(
    whole.map((r) => [r.line, r.prefix]),
    [
      [2, '+44'],
      [4, '+33'],
      [5, '+49'],
    ],
  );
});

test('bad decks: the first bad line and column, in words', async () => {
  const cases: Array<[string, string]> = [
    ['', 'line 1: the file is empty: expected a header row (prefix,rate,...)'],
    ['prefix,rate\n', 'line 2: no rate rows after the header'],
    [
      'prefix,price\n44,1\n',
      'line 1: the header row has no rate column (it needs prefix and rate; may have increment, fee, effective)',
    ],
    ['prefix,rate,Rate\n', 'line 1, column 3 (rate): the header names rate twice (columns 2 and 3)'],
    [
      'prefix,rate\n44,0.01\n0044,0.01\n',
      'line 3, column 1 (prefix): expected a dialling prefix like 44 or +4420 (1 to 15 digits, the first not 0), got "0044"',
    ],
    [
      'prefix,rate\n44,0.01\n\n33,1.5e-3\n',
      'line 4, column 2 (rate): a price per minute: expected a decimal number like 0.0125, got "1.5e-3"',
    ],
    [
      'prefix,rate\n44,-1\n',
      'line 2, column 2 (rate): a price per minute: expected a decimal number like 0.0125, got "-1"',
    ],
    [
      'prefix,rate\n44,0.0000001\n',
      'line 2, column 2 (rate): a price per minute: at most 6 decimal places, got "0.0000001"',
    ],
    ['prefix,rate\n44,1000000\n', 'line 2, column 2 (rate): a price per minute: must be below 1000000, got "1000000"'],
    [
      'rate,prefix,increment\n0.01,44,60\n',
      'line 2, column 3 (increment): expected FIRST/NEXT seconds like 60/60, 1/1 or 30/6 (1 to 3600 each), got "60"',
    ],
    [
      'prefix,rate,increment\n44,0.01,0/1\n',
      'line 2, column 3 (increment): expected FIRST/NEXT seconds like 60/60, 1/1 or 30/6 (1 to 3600 each), got "0/1"',
    ],
    [
      'prefix,rate,fee\n44,0.01,abc\n',
      'line 2, column 3 (fee): a fee per call: expected a decimal number like 0.0125, got "abc"',
    ],
    [
      'prefix,rate,effective\n44,0.01,2026-02-30\n',
      'line 2, column 3 (effective): expected an ISO date like 2026-03-01 or a time like 2026-03-01T08:00:00Z, got "2026-02-30"',
    ],
    [
      'prefix,rate,effective\n44,0.01,2026-03-01T08:00\n',
      'line 2, column 3 (effective): expected an ISO date like 2026-03-01 or a time like 2026-03-01T08:00:00Z, got "2026-03-01T08:00"',
    ],
    ['prefix,rate\n44,0.01,x\n', 'line 2: 3 fields, the header has 2'],
    ['prefix,rate\n44\n', 'line 2: 1 field, the header has 2'],
    ['prefix,rate\n"44,0.01\n', 'line 2, column 1: a quoted field is not closed'],
    ['prefix,rate\n"44"x,0.01\n', 'line 2, column 1: text after the closing quote of a quoted field'],
    ['prefix,rate\n4"4,0.01\n', 'line 2, column 1: a quote inside an unquoted field (quote it all)'],
    [
      'prefix,rate\n"a\nb\nc",0.01\n',
      'line 2, column 1 (prefix): expected a dialling prefix like 44 or +4420 (1 to 15 digits, the first not 0), got "a\\nb\\nc"',
    ],
  ];
  for (const [text, message] of cases) assert.equal(await error(text), message, JSON.stringify(text));
  // Not UTF-8.
  assert.match(
    await (async () => {
      try {
        await read([Buffer.from([0x70, 0x72, 0x65, 0x66, 0x69, 0x78, 0x2c, 0xff, 0x0a])]);
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    })(),
    /^line 1: the file is not UTF-8 text$/,
  );
});

test('money: decimals to micro-units and back, exact', () => {
  assert.equal(parseMicros('0.0125'), 12_500);
  assert.equal(parseMicros('0.012500000'), 12_500);
  assert.equal(parseMicros('12'), 12_000_000);
  assert.equal(parseMicros('999999.999999'), 999_999_999_999);
  assert.deepEqual(parseMicros('.5'), { problem: 'expected a decimal number like 0.0125' });
  assert.equal(formatMicros(12_500), '0.0125');
  assert.equal(formatMicros(1_000_000), '1.00');
  assert.equal(formatMicros(1_500_000), '1.50');
  assert.equal(formatMicros(0), '0.00');
  assert.equal(formatMicros(999_999_999_999), '999999.999999');
  // 0.1 + 0.2 in floats is 0.30000000000000004; in micro-units it is 0.3.
  assert.equal(formatMicros((parseMicros('0.1') as number) + (parseMicros('0.2') as number)), '0.30');
  assert.deepEqual(parseIncrements('30/6'), { first: 30, next: 6 });
  assert.deepEqual(parseIncrements('1 / 1'), { first: 1, next: 1 });
});

test('billed seconds by increments, and the cost rounded half up to a micro-unit', () => {
  const i3006 = { first: 30, next: 6 };
  const i6060 = { first: 60, next: 60 };
  const i11 = { first: 1, next: 1 };
  const cases: Array<[number, { first: number; next: number }, number]> = [
    [0, i3006, 0],
    [1, i3006, 30],
    [7, i3006, 30],
    [30, i3006, 30],
    [31, i3006, 36],
    [36, i3006, 36],
    [37, i3006, 42],
    [7, i6060, 60],
    [60, i6060, 60],
    [61, i6060, 120],
    [7, i11, 7],
    [3601, i11, 3601],
  ];
  for (const [d, inc, want] of cases) assert.equal(billedSeconds(d, inc), want, `${d} s at ${inc.first}/${inc.next}`);
  // 0.06/min for 30 s = 0.03; plus a fee of 0.01.
  assert.equal(costMicros(60_000, 10_000, 30), 40_000);
  // 0.01/min for 7 s = 0.0011666... -> 0.001167 (half up).
  assert.equal(costMicros(10_000, 0, 7), 1167);
  // 0.000030/min for 1 s = 0.0000005 -> 0.000001 (exactly half: up).
  assert.equal(costMicros(30, 0, 1), 1);
  assert.equal(costMicros(29, 0, 1), 0);
  // Large values stay exact (BigInt): 999999.999999/min for an hour.
  assert.equal(costMicros(999_999_999_999, 0, 1_000_000), null, 'beyond a safe integer: not priced');
  assert.equal(costMicros(999_999_999_999, 0, 3600), 59_999_999_999_940);
});

function carrier(name: string): Carrier {
  return {
    name,
    gateways: [`sip:${name}.example`],
    username: null,
    password: null,
    register: false,
    prefix: null,
    plus: true,
    media: 'any',
    codecs: [],
    dialPlan: null,
    createdAt: 0,
  };
}

function rate(c: string, prefix: string, micros: number): RateMatch {
  return { carrier: c, prefix, rate: micros, fee: 0, first: 60, next: 60, effectiveAt: 0 };
}

test('lcr: cheapest first, equal rates in the list order, a carrier without a rate left out', () => {
  const route: RouteMatch = {
    prefix: '+44',
    mode: 'lcr',
    carriers: ['a', 'b', 'c', 'd', 'e'].map(carrier),
    weights: null,
  };
  const rates = new Map([
    ['a', rate('a', '+44', 20_000)],
    ['b', rate('b', '+4420', 10_000)],
    ['d', rate('d', '+44', 30_000)],
    ['e', rate('e', '+442', 10_000)],
  ]);
  const o = orderRoute(route, rates);
  assert.deepEqual(
    o.ordered.map((p) => [p.carrier.name, p.why]),
    [
      ['b', 'cheapest: 0.01/min for +4420, 60/60'],
      ['e', '0.01/min for +442, 60/60: the same rate as b, listed after it'],
      ['a', '0.02/min for +44, 60/60: dearer than e'],
      ['d', '0.03/min for +44, 60/60: dearer than a'],
    ],
  );
  assert.deepEqual(
    o.leftOut.map((l) => [l.carrier.name, l.why]),
    [['c', 'no rate in its deck for this number (mode lcr skips it)']],
  );
  // priority: the list, whatever the rates.
  assert.deepEqual(
    orderRoute({ ...route, mode: 'priority' }, rates).ordered.map((p) => p.carrier.name),
    ['a', 'b', 'c', 'd', 'e'],
  );
});

test('weighted: each carrier first in proportion to its weight; every carrier follows for failover', () => {
  const route: RouteMatch = {
    prefix: '+',
    mode: 'weighted',
    carriers: ['a', 'b', 'c'].map(carrier),
    weights: [6, 3, 1],
  };
  const random = prng(42);
  const first = new Map<string, number>();
  const N = 20_000;
  for (let i = 0; i < N; i++) {
    const o = orderRoute(route, null, random).ordered.map((p) => p.carrier.name);
    assert.deepEqual([...o].sort(), ['a', 'b', 'c']);
    first.set(o[0]!, (first.get(o[0]!) ?? 0) + 1);
  }
  for (const [name, share] of [
    ['a', 0.6],
    ['b', 0.3],
    ['c', 0.1],
  ] as const)
    assert.ok(Math.abs(first.get(name)! / N - share) < 0.02, `${name}: ${first.get(name)! / N}`);
  // explain's view: the list order and each one's chance.
  assert.deepEqual(
    orderRoute(route, null, null).ordered.map((p) => p.why),
    [
      'weight 6 of 10: first for 60% of calls, else tried after the one drawn',
      'weight 3 of 10: first for 30% of calls, else tried after the one drawn',
      'weight 1 of 10: first for 10% of calls, else tried after the one drawn',
    ],
  );
});

test("a CDR's price: answered outbound calls by the answering carrier's rate at the answer", async () => {
  const cdr: Cdr = {
    callSid: 'CA1',
    account: 'acme',
    trunk: 'pbx',
    carrier: 'a',
    direction: 'outbound',
    from: '+14155550100',
    to: '+442071234567',
    startAt: 1000,
    answerAt: 2000,
    endAt: 9000,
    duration: 7,
    status: 200,
    reason: 'Normal',
    hangupBy: 'caller',
    extra: null,
  };
  const asked: unknown[] = [];
  const lookup = async (carriers: readonly string[], number: string, at: number) => {
    asked.push([carriers, number, at]);
    return new Map([['a', { ...rate('a', '+4420', 60_000), first: 30, next: 6, fee: 5000 }]]);
  };
  const p = await pricedCdr(cdr, lookup);
  assert.deepEqual([p.cost, p.rate, p.ratePrefix, p.billed], [35_000, 60_000, '+4420', 30]);
  assert.deepEqual(asked, [[['a'], '+442071234567', 2000]]);
  // Not priced: inbound, not answered, no rate.
  assert.equal((await pricedCdr({ ...cdr, direction: 'inbound' }, lookup)).cost, undefined);
  assert.equal((await pricedCdr({ ...cdr, answerAt: null, status: 486, duration: 0 }, lookup)).cost, undefined);
  assert.equal((await pricedCdr(cdr, async () => new Map())).cost, undefined);
});
