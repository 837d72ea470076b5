/**
 * Rate decks in memory (src/store/repos/rate-index.ts) behind the rate
 * repository's lookups on SQLite: a server's store (looked up often) and a
 * CLI's store on the same file. Every answer, before the decks are in
 * memory (the query) and after, is checked against the decks' rows read
 * the plain way (longest prefix in force, then the newest in force of it);
 * a deck replaced by the other store, or a prefix removed, is answered at
 * once, and then from memory again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore, type Store } from '../../src/store/index.js';
import type { RateMatch } from '../../src/trunking/model.js';
import { INDEX_AFTER } from '../../src/store/repos/rate-index.js';
import { readRateCsv } from '../../src/trunking/rate-csv.js';
import { sqliteBackend } from '../helpers/backends.js';

interface Row {
  prefix: string;
  rate: number;
  effectiveAt: number;
}

const PAST = Date.UTC(2026, 0, 1);
const FUTURE = Date.UTC(2099, 0, 1);

/** A seeded deck: nested prefixes of 1-15 digits, some with a second row from a past or future date. */
function deck(seed: number, n: number): Row[] {
  let x = seed;
  const rand = (k: number): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % k;
  };
  const rows: Row[] = [];
  const seen = new Set<string>();
  while (rows.length < n) {
    let p = `+${1 + rand(9)}`;
    const len = 1 + rand(rand(4) === 0 ? 15 : 6);
    while (p.length - 1 < len) p += String(rand(10));
    if (seen.has(p)) continue;
    seen.add(p);
    rows.push({ prefix: p, rate: 1000 + rand(90_000), effectiveAt: 0 });
    const extra = rand(6);
    if (extra === 0) rows.push({ prefix: p, rate: 1000 + rand(90_000), effectiveAt: PAST });
    if (extra === 1) rows.push({ prefix: p, rate: 1000 + rand(90_000), effectiveAt: FUTURE });
  }
  return rows;
}

function csv(rows: readonly Row[]): string {
  const money = (m: number): string => `0.${String(m).padStart(6, '0')}`;
  const date = (t: number): string => (t === 0 ? '' : new Date(t).toISOString().slice(0, 10));
  return `prefix,rate,effective\n${rows.map((r) => `${r.prefix},${money(r.rate)},${date(r.effectiveAt)}`).join('\n')}\n`;
}

async function* once(text: string): AsyncGenerator<string> {
  yield text;
}

/** The plain answer: the longest prefix with a row in force at `at`, its newest row in force. */
function expected(rows: readonly Row[], number: string, at: number): string | null {
  for (let n = number.length; n >= 2; n--) {
    const p = number.slice(0, n);
    const mine = rows.filter((r) => r.prefix === p && r.effectiveAt <= at);
    if (mine.length === 0) continue;
    const best = mine.reduce((a, b) => (b.effectiveAt > a.effectiveAt ? b : a));
    return `${p} ${best.rate} ${best.effectiveAt}`;
  }
  return null;
}

function got(m: RateMatch | undefined): string | null {
  return m === undefined ? null : `${m.prefix} ${m.rate} ${m.effectiveAt}`;
}

/** Numbers that hit the decks' prefixes (and some that hit nothing), each filled to 12-16 characters. */
function numbers(decks: Row[][], n: number): string[] {
  const all = decks.flat();
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = i % 10 === 0 ? '+0' : all[(i * 7919) % all.length]!.prefix;
    out.push((p + '4817263549162738').slice(0, Math.max(p.length, 12 + (i % 5))));
  }
  return out;
}

async function checkAll(s: Store, decks: Map<string, Row[]>, nums: readonly string[], at: number): Promise<void> {
  const carriers = [...decks.keys()];
  for (const n of nums) {
    const m = await s.rates.match(carriers, n, at);
    for (const c of carriers) assert.equal(got(m.get(c)), expected(decks.get(c)!, n, at), `${c} ${n} at ${at}`);
  }
}

async function inMemory(s: Store, decks: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (s.rates.inMemory.decks !== decks) {
    assert.ok(Date.now() < deadline, `${s.rates.inMemory.decks} of ${decks} decks in memory after 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

test('SQLite: decks in memory answer as the query does, and follow a replaced deck and a removed prefix', async (t) => {
  const backend = sqliteBackend('rate-index');
  t.after(() => backend.cleanup());
  const config = await backend.fresh();
  const server = await openStore(config, { env: {} });
  t.after(() => server.close());
  const cli = await openStore(config, { env: {} });
  t.after(() => cli.close());
  for (const name of ['a', 'b']) await cli.carriers.add({ name, gateways: ['sip:127.0.0.1:5080'] });
  const decks = new Map([
    ['a', deck(1, 3000)],
    ['b', deck(2, 2500)],
  ]);
  for (const [c, rows] of decks) await cli.rates.import(c, readRateCsv(once(csv(rows))), { replace: true });
  const nums = numbers([...decks.values()], 400);
  assert.ok(nums.length > INDEX_AFTER);

  // By the query, until a deck has been looked up INDEX_AFTER times; then in memory.
  await checkAll(server, decks, nums, Date.now());
  await inMemory(server, 2);
  assert.equal(server.rates.inMemory.rows, decks.get('a')!.length + decks.get('b')!.length);
  for (const at of [Date.now(), PAST - 1, FUTURE]) await checkAll(server, decks, nums, at);
  assert.equal(cli.rates.inMemory.decks, 0, 'a store looked up a few times keeps its decks on disk');
  // Not `+` and digits: answered by the query, as before.
  await checkAll(server, decks, ['+44x1', '+1-2'], Date.now());

  // Another process replaces b's deck: the server's next lookup answers from the new one.
  decks.set('b', deck(3, 2000));
  await cli.rates.import('b', readRateCsv(once(csv(decks.get('b')!))), { replace: true });
  await checkAll(server, decks, nums.slice(0, 100), Date.now());
  // A prefix of a removed from the deck in memory: gone at once.
  const gone = decks.get('a')!.find((r) => r.prefix.length > 3)!.prefix;
  assert.ok((await cli.rates.rm('a', gone)) >= 1);
  decks.set(
    'a',
    decks.get('a')!.filter((r) => r.prefix !== gone),
  );
  await checkAll(server, decks, [`${gone}99887766`.slice(0, 16), ...nums.slice(0, 100)], Date.now());
  await inMemory(server, 2);
  await checkAll(server, decks, [`${gone}99887766`.slice(0, 16), ...nums], Date.now());
});
