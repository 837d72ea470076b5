/**
 * The routing module (src/trunking/routing-hook.ts, routing-apply.ts) on
 * the one path of a dialled number (dialled.ts decideRoute) and in
 * `route explain`: real ES module files written here and imported as the
 * server imports them. Reorder, drop, refuse, rewrite numbers, add
 * headers; a module that throws, overruns its budget, mutates its view or
 * returns what cannot be applied leaves the table's decision.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Carrier, OutboundRoute, RateMatch, Trunk } from '../../src/trunking/model.js';
import { TrunkingSnapshot } from '../../src/trunking/snapshot.js';
import { decideRoute, refusalText, type RatesOf } from '../../src/trunking/dialled.js';
import { explainRoute } from '../../src/trunking/explain.js';
import { RoutingModule, RoutingModuleError, type CallFacts } from '../../src/trunking/routing-hook.js';

const dir = mkdtempSync(join(tmpdir(), 'trunkline-rmod-'));
let n = 0;
const warned: Array<{ obj: object; msg: string }> = [];
const log = { warn: (obj: object, msg: string) => warned.push({ obj, msg }) };

/** A module file with this body (an ES module), loaded with `budgetMs`. */
async function moduleOf(body: string, budgetMs = 50): Promise<RoutingModule> {
  const file = join(dir, `m${++n}.mjs`);
  writeFileSync(file, body);
  return RoutingModule.load(file, budgetMs, log);
}

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

const trunk: Trunk = {
  name: 'pbx',
  account: 'acme',
  ip: ['127.0.0.2/32'],
  register: null,
  transport: null,
  tlsFingerprint: null,
  dest: null,
  cpm: 10,
  maxCalls: 10,
  media: 'any',
  codecs: [],
  dialPlan: null,
  createdAt: 0,
};

const route = (prefix: string, carriers: string[], mode: OutboundRoute['mode']): OutboundRoute => ({
  prefix,
  carriers,
  mode,
  weights: null,
  createdAt: 0,
});

const snap = new TrunkingSnapshot({
  accounts: [{ name: 'acme', cpm: null, maxCalls: null, createdAt: 0 }],
  trunks: [trunk],
  dids: [],
  carriers: [carrier('cheap'), carrier('dear'), carrier('unrated')],
  routes: [route('+44', ['unrated', 'dear', 'cheap'], 'lcr'), route('emergency', ['dear'], 'priority')],
  dialPlans: [],
});

const rate = (c: string, micros: number): RateMatch => ({
  carrier: c,
  prefix: '+44',
  rate: micros,
  fee: 0,
  first: 60,
  next: 60,
  effectiveAt: 0,
});
const RATES = new Map([
  ['cheap', rate('cheap', 10_000)],
  ['dear', rate('dear', 20_000)],
]);
const ratesOf = (names: readonly string[]): Map<string, RateMatch> =>
  new Map([...RATES].filter(([c]) => names.includes(c)));
const rates: RatesOf = async (names) => ratesOf(names);
const NUMBER = { number: '+442071230000', emergency: false };

const facts: CallFacts = {
  source: { address: '127.0.0.2', port: 5060, transport: 'udp' },
  trunk: 'pbx',
  account: 'acme',
  calleeReceived: '+442071230000',
  caller: { received: '+14155550100', number: '+14155550100' },
  headers: [
    ['From', '<sip:+14155550100@127.0.0.2>'],
    ['X-Tier', 'gold'],
  ],
  explain: false,
  quality: (c) =>
    c === 'dear' ? { attempts: 40, asr: 55, ner: 99, acd: 120, pdd: 900, mos: 4.2, demoted: false } : null,
};

const decide = (m: RoutingModule | null, d = NUMBER) =>
  decideRoute(snap, d, rates, null, m === null ? null : { module: m, facts });
const names = (r: Awaited<ReturnType<typeof decide>>) => r.order.ordered.map((o) => o.carrier.name);

test('reorder: the module puts the dearer carrier first, seeing the rates, quality, numbers and headers', async () => {
  const table = await decide(null);
  assert.deepEqual(names(table), ['cheap', 'dear']);
  const m = await moduleOf(`
    export default function route(call) {
      const tier = call.headers.find(([n]) => n === 'X-Tier')?.[1];
      const best = [...call.candidates].sort((a, b) => (b.quality?.asr ?? 0) - (a.quality?.asr ?? 0));
      if (tier !== 'gold' || call.callee.number !== '+442071230000' || call.caller.number !== '+14155550100') return;
      if (call.candidates[0].rate.perMinute !== '0.01' || call.route.mode !== 'lcr' || call.source.address !== '127.0.0.2') return;
      return { carriers: best.map((c) => c.carrier) };
    }`);
  const r = await decide(m);
  assert.deepEqual(names(r), ['dear', 'cheap']);
  assert.equal(r.refusal, null);
  assert.deepEqual(r.module!.changes, ['carriers: cheap,dear -> dear,cheap']);
  assert.match(r.order.ordered[0]!.why, /placed 1 by the routing module \(the table had it 2\)$/);
  assert.equal(r.module!.error, null);
});

test('drop: carriers left out are dropped (said why); none left refuses the call', async () => {
  const r = await decide(await moduleOf(`export const route = () => ({ carriers: ['dear'] });`));
  assert.deepEqual(names(r), ['dear']);
  assert.deepEqual(
    r.order.leftOut.map((l) => [l.carrier.name, l.why]),
    [
      ['unrated', 'no rate in its deck for this number (mode lcr skips it)'],
      ['cheap', 'dropped by the routing module (the table had it 1)'],
    ],
  );
  const none = await decide(await moduleOf(`export default () => ({ carriers: [] });`));
  assert.equal(refusalText(none.refusal!), '404: No route (the routing module dropped every carrier)');
  assert.equal(none.refusal!.cause, 'routing-module');
});

test('refuse: a status and reason of its own', async () => {
  const r = await decide(
    await moduleOf(`export default async () => ({ refuse: { status: 403, reason: 'Blocked by policy' } });`),
  );
  assert.deepEqual(
    [r.refusal?.status, r.refusal?.reason, r.refusal?.cause],
    [403, 'Blocked by policy', 'routing-module'],
  );
});

test('rewrite numbers and add headers: the planner sends them, explain shows them', async () => {
  const m = await moduleOf(
    `export default () => ({ callee: '+442071239999', caller: '+14155550199', headers: { 'X-Route-Tag': 'premium' } });`,
  );
  const r = await decide(m);
  assert.deepEqual(
    [r.module!.callee, r.module!.caller, r.module!.headers],
    ['+442071239999', '+14155550199', [['X-Route-Tag', 'premium']]],
  );
  assert.deepEqual(names(r), ['cheap', 'dear'], 'no order given: the table order');
  const e = await explainRoute(snap, 'pbx', '+442071230000', async (c) => ratesOf(c), Date.now(), {
    module: m,
  });
  const carriers = e['carriers'] as Array<{ name: string; sends: string }>;
  assert.deepEqual(
    carriers.map((c) => [c.name, c.sends]),
    [
      ['cheap', '+442071239999'],
      ['dear', '+442071239999'],
    ],
  );
  const mod = e['module'] as { changed: string[]; headers: Record<string, string>; error: null };
  assert.deepEqual(mod.changed, [
    'callee sent as +442071239999',
    'caller sent as +14155550199',
    'header added: X-Route-Tag: premium',
  ]);
  assert.deepEqual(mod.headers, { 'X-Route-Tag': 'premium' });
});

test("a module that throws, mutates its view or answers what cannot be applied: logged, the table's decision stands", async () => {
  const bad: Array<[string, RegExp]> = [
    [`export default () => { throw new Error('boom'); };`, /^threw: boom$/],
    [`export default (call) => { call.candidates.reverse(); };`, /^threw: .*read.only|^threw: .*frozen/i],
    [`export default () => ({ carriers: ['nobody'] });`, /carriers: "nobody" is no candidate/],
    [`export default () => ({ carriers: ['unrated'] });`, /carriers: "unrated" is no candidate/],
    [`export default () => ({ headers: { Via: 'SIP/2.0/UDP evil' } });`, /headers: Via is the B2BUA's own/],
    [`export default () => ({ headers: { 'X-A': 'a\\r\\nVia: x' } });`, /without line breaks/],
    [
      `export default () => ({ refuse: { status: 200, reason: 'OK' } });`,
      /refuse.status: expected a SIP status 400-699/,
    ],
    [`export default () => ({ callee: '0207' });`, /callee: expected an E.164 number/],
    [`export default () => ({ carrier: ['dear'] });`, /unknown key carrier/],
    [`export default () => 42;`, /expected an object/],
  ];
  for (const [body, why] of bad) {
    warned.length = 0;
    const r = await decide(await moduleOf(body));
    assert.deepEqual(names(r), ['cheap', 'dear'], body);
    assert.equal(r.refusal, null, body);
    assert.match(r.module!.error!, why, body);
    assert.equal(warned.length, 1, `${body}: one log line`);
    assert.match(warned[0]!.msg, /routing module failed: the table's decision stands/);
  }
});

test("a module over its budget: cut at the budget (async) or dropped (sync); the table's decision stands", async () => {
  const slow = await moduleOf(
    `export default () => new Promise((r) => setTimeout(() => r({ refuse: { status: 403, reason: 'late' } }), 1000));`,
    30,
  );
  const t0 = performance.now();
  const r = await decide(slow);
  const took = performance.now() - t0;
  assert.match(r.module!.error!, /^took over its budget of 30 ms$/);
  assert.equal(r.refusal, null);
  assert.ok(took < 500, `cut at the budget: ${Math.round(took)} ms`);
  const busy = await moduleOf(
    `export default () => { const end = Date.now() + 60; while (Date.now() < end); return { carriers: ['dear'] }; };`,
    20,
  );
  const b = await decide(busy);
  assert.match(b.module!.error!, /^took [0-9.]+ ms, over its budget of 20 ms$/);
  assert.deepEqual(names(b), ['cheap', 'dear']);
});

test('emergency calls never reach the module; a file that does not load or exports no function is named', async () => {
  const m = await moduleOf(`export default () => ({ refuse: { status: 403, reason: 'no' } });`);
  const r = await decide(m, { number: '999', emergency: true });
  assert.deepEqual([r.refusal, r.module, names(r)], [null, null, ['dear']]);
  await assert.rejects(
    RoutingModule.load(join(dir, 'missing.mjs'), 50, log),
    (e: unknown) => e instanceof RoutingModuleError && /^routing.module: .*missing.mjs does not load/.test(e.message),
  );
  await assert.rejects(
    moduleOf(`export const other = 1;`),
    /exports no function \(a default export, or one named route\)/,
  );
  await assert.rejects(moduleOf(`export default (;`), /does not load/);
});

test('a reload reads the file anew', async () => {
  const file = join(dir, 'reloaded.mjs');
  writeFileSync(file, `export default () => ({ carriers: ['dear'] });`);
  const first = await RoutingModule.load(file, 50, log);
  writeFileSync(file, `export default () => ({ carriers: ['cheap'] });`);
  const second = await RoutingModule.load(file, 50, log);
  assert.deepEqual([names(await decide(first)), names(await decide(second))], [['dear'], ['cheap']]);
});

test('the documented example (docs/examples/routing-module.ts) does what its comment says', async () => {
  const example = fileURLToPath(new URL('../../docs/examples/routing-module.js', import.meta.url));
  const m = await RoutingModule.load(example, 50, log);
  const gold = { ...facts, headers: [['X-Priority-Route', 'dear'] as const] };
  const r = await decideRoute(snap, NUMBER, rates, null, { module: m, facts: gold });
  assert.deepEqual([names(r), r.module!.headers], [['dear', 'cheap'], [['X-Customer-Account', 'acme']]]);
  // Account budget to a UK mobile: cheap (0.01) and dear (0.02) are both under 0.05.
  const budget = { ...facts, account: 'budget' };
  const mobile = { number: '+447700900123', emergency: false };
  const b = await decideRoute(snap, mobile, rates, null, { module: m, facts: budget });
  assert.deepEqual(names(b), ['cheap', 'dear']);
  RATES.set('cheap', rate('cheap', 60_000));
  RATES.set('dear', rate('dear', 70_000));
  try {
    const refused = await decideRoute(snap, mobile, rates, null, { module: m, facts: budget });
    assert.equal(refusalText(refused.refusal!), '403: Destination not in plan (refused by the routing module)');
  } finally {
    RATES.set('cheap', rate('cheap', 10_000));
    RATES.set('dear', rate('dear', 20_000));
  }
});
