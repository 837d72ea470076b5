/**
 * Dial plans (src/trunking/dial-plan.ts, dial-plan-validate.ts) and the one
 * path of a dialled number (dialled.ts): the forms PBXs and carriers send
 * read to E.164 by country, emergency numbers kept as dialled, rewrite
 * rules, the forms numbers are sent in, the checks naming the bad field,
 * and the route an emergency call takes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { receiveNumber, sendNumber, countryDefaults, applyRules } from '../../src/trunking/dial-plan.js';
import { checkDialPlan, parseRuleText, ruleText } from '../../src/trunking/dial-plan-validate.js';
import { NumberError } from '../../src/trunking/e164.js';
import { ValidationError } from '../../src/store/errors.js';
import type { Carrier, DialPlan, OutboundRoute, Trunk } from '../../src/trunking/model.js';
import { TrunkingSnapshot } from '../../src/trunking/snapshot.js';
import { calleeForCarrier, decideRoute, readDialled, refusalText } from '../../src/trunking/dialled.js';
import { explainRoute } from '../../src/trunking/explain.js';

function plan(name: string, country: string, more: Partial<DialPlan> = {}): DialPlan {
  return { ...checkDialPlan({ name, country }, 0), ...more };
}

const IN = plan('IN', '91');
const US = plan('US', '1', { rules: [parseRuleText('^([2-9][0-9]{9})$=>+1$1')] });
const UK = plan('UK', '44');
const IT = plan('IT', '39');

const callee = (n: string, p: DialPlan | null) => receiveNumber(n, p, true);

test('received numbers: national and international prefixes by country, E.164 as it is', () => {
  const cases: [string, DialPlan | null, string][] = [
    ['02240001234', IN, '+912240001234'],
    ['022 4000-1234', IN, '+912240001234'],
    ['00442079460000', IN, '+442079460000'],
    ['+14155550100', IN, '+14155550100'],
    ['912240001234', IN, '+912240001234'],
    ['sip:02240001234@pbx.example;user=phone', IN, '+912240001234'],
    ['14155550100', US, '+14155550100'],
    ['011442079460000', US, '+442079460000'],
    ['4155550100', US, '+14155550100'],
    ['02079460000', UK, '+442079460000'],
    ['0044 20 7946 0000', UK, '+442079460000'],
    ['0612345678', IT, '+390612345678'],
    ['00441234567', IT, '+441234567'],
    ['00912240001234', null, '+912240001234'],
    ['14155550100', null, '+14155550100'],
  ];
  for (const [n, p, want] of cases)
    assert.deepEqual(callee(n, p), { kind: 'e164', number: want }, `${n} by ${p?.name ?? 'no plan'}`);
});

test('emergency numbers: kept as dialled, per plan, callee only, before and after the rules', () => {
  for (const [n, p] of [
    ['112', IN],
    ['100', IN],
    ['108', IN],
    ['911', US],
    ['999', UK],
    ['112', UK],
    ['911', null],
    ['112', null],
    ['999', null],
  ] as const)
    assert.deepEqual(callee(n, p), { kind: 'emergency', number: n }, `${n} by ${p?.name ?? 'no plan'}`);
  // Not a plan's emergency number: E.164 as ever (100 is not one in the UK).
  assert.deepEqual(callee('100', UK), { kind: 'e164', number: '+100' });
  // A caller is never an emergency number.
  assert.deepEqual(receiveNumber('112', IN, false), { kind: 'e164', number: '+112' });
  // A rule that would eat 112 (prefix 1 -> +1) does not: the emergency list is read first.
  const greedy = plan('G', '1', { rules: [parseRuleText('1=>+1')] });
  assert.deepEqual(callee('112', greedy), { kind: 'emergency', number: '112' });
  assert.deepEqual(callee('15551234567', greedy), { kind: 'e164', number: '+15551234567' });
  // A rule may turn a local form into an emergency number.
  const star = plan('S', '91', { rules: [parseRuleText('0112=>112')] });
  assert.deepEqual(callee('0112', star), { kind: 'emergency', number: '112' });
});

test('refused numbers say why', () => {
  const bad: [string, DialPlan | null, RegExp][] = [
    ['02079460000', null, /national number \(leading 0\) needs a country code/],
    ['abc', UK, /not a phone number/],
    ['*31#02079460000', UK, /not a phone number/],
    ['0', UK, /only the national prefix/],
    ['00', UK, /no digits|no country code|expected/],
    ['0123', US, /needs a country code/],
    ['0044 12345678901234567', UK, /longer than 15 digits/],
  ];
  for (const [n, p, why] of bad)
    assert.throws(
      () => callee(n, p),
      (e: unknown) => e instanceof NumberError && why.test(e.message),
      n,
    );
});

test('rewrite rules: the first of its direction applies, prefix or ^regular expression', () => {
  const rules = [
    parseRuleText('0800=>+91800'),
    parseRuleText('08=>+9999'),
    parseRuleText('^1([0-9]{3})$=>+9122400$1'),
    parseRuleText('out:+44=>0044'),
  ];
  assert.equal(applyRules('08001234', rules, 'in'), '+918001234');
  assert.equal(applyRules('0812', rules, 'in'), '+999912');
  assert.equal(applyRules('1234', rules, 'in'), '+9122400234');
  assert.equal(applyRules('12345', rules, 'in'), '12345');
  assert.equal(applyRules('+442079460000', rules, 'in'), '+442079460000', 'an out rule is not applied in');
  assert.equal(applyRules('+442079460000', rules, 'out'), '00442079460000');
  const withExt = plan('E', '91', { rules });
  assert.deepEqual(callee('1234', withExt), { kind: 'e164', number: '+9122400234' });
  assert.equal(ruleText(rules[3]!), 'out:+44=>0044');
  assert.deepEqual(parseRuleText(ruleText(rules[2]!)), rules[2]);
});

test('sent numbers: e164 (with or without +), national at home, international elsewhere, emergency as it is', () => {
  const plus = { plus: true };
  assert.equal(sendNumber('+912240001234', null, false, plus), '+912240001234');
  assert.equal(sendNumber('+912240001234', null, false, { plus: false }), '912240001234');
  const natIN = { ...IN, format: 'national' as const };
  assert.equal(sendNumber('+912240001234', natIN, false, plus), '02240001234');
  assert.equal(sendNumber('+442079460000', natIN, false, plus), '00442079460000');
  const natUS = { ...US, format: 'national' as const, rules: [] };
  assert.equal(sendNumber('+14155550100', natUS, false, plus), '14155550100');
  assert.equal(sendNumber('+442079460000', natUS, false, plus), '011442079460000');
  assert.equal(sendNumber('+912240001234', { ...UK, format: 'international' }, false, plus), '00912240001234');
  assert.equal(sendNumber('112', natIN, true, plus), '112');
  assert.equal(sendNumber('911', null, true, { plus: true }), '911', 'never +911');
  const outRule = { ...natIN, rules: [parseRuleText('out:0044=>44')] };
  assert.equal(sendNumber('+442079460000', outRule, false, plus), '442079460000');
  // Round trip: what a plan sends, the same plan reads back.
  for (const n of ['+912240001234', '+442079460000', '+14155550100'])
    assert.deepEqual(callee(sendNumber(n, natIN, false, plus), natIN), { kind: 'e164', number: n });
});

test('checks: country defaults, and errors naming the bad field', () => {
  assert.deepEqual(
    [IN.nationalPrefix, IN.internationalPrefix, IN.format, IN.emergency],
    ['0', '00', 'e164', ['112', '100', '101', '102', '108']],
  );
  assert.deepEqual([US.nationalPrefix, US.internationalPrefix, US.emergency], ['1', '011', ['911', '112']]);
  assert.deepEqual([UK.nationalPrefix, UK.emergency], ['0', ['999', '112']]);
  assert.equal(countryDefaults('999').emergency[0], '112', 'an unknown country: 112');
  const bad: [Parameters<typeof checkDialPlan>[0], string][] = [
    [{ name: 'x', country: '0' }, 'country'],
    [{ name: 'x', country: 'IN' }, 'country'],
    [{ name: 'x', country: '91', nationalPrefix: 'a' }, 'nationalPrefix'],
    [{ name: 'x', country: '91', internationalPrefix: '' }, 'internationalPrefix'],
    [{ name: 'x', country: '91', nationalPrefix: '00', internationalPrefix: '00' }, 'internationalPrefix'],
    [{ name: 'x', country: '91', format: 'local' as never }, 'format'],
    [{ name: 'x', country: '91', emergency: [] }, 'emergency'],
    [{ name: 'x', country: '91', emergency: ['1a2'] }, 'emergency'],
    [{ name: 'x', country: '91', rules: [{ match: '^(', replace: '1', direction: 'in' }] }, 'rules[0].match'],
    [{ name: 'x', country: '91', rules: [{ match: 'ab', replace: '1', direction: 'in' }] }, 'rules[0].match'],
    [{ name: 'x', country: '91', rules: [{ match: '0', replace: 'x', direction: 'in' }] }, 'rules[0].replace'],
    [
      { name: 'x', country: '91', rules: [{ match: '0', replace: '1', direction: 'up' as never }] },
      'rules[0].direction',
    ],
    [{ name: 'bad name', country: '91' }, 'name'],
  ];
  for (const [input, field] of bad)
    assert.throws(
      () => checkDialPlan(input, 0),
      (e: unknown) => e instanceof ValidationError && e.message.startsWith(`${field}:`),
      `${JSON.stringify(input)} names ${field}`,
    );
  assert.throws(() => parseRuleText('0800+91800'), /expected \[in:\|out:\]MATCH=>REPLACEMENT/);
});

function carrier(name: string, dialPlan: string | null, more: Partial<Carrier> = {}): Carrier {
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
    dialPlan,
    createdAt: 0,
    ...more,
  };
}

function trunk(name: string, dialPlan: string | null): Trunk {
  return {
    name,
    account: 'acme',
    ip: ['127.0.0.2/32'],
    register: null,
    transport: null,
    tlsFingerprint: null,
    dest: null,
    cpm: 1,
    maxCalls: 1,
    media: 'any',
    codecs: [],
    dialPlan,
    createdAt: 0,
  };
}

const route = (prefix: string, carriers: string[], mode: OutboundRoute['mode'] = 'priority'): OutboundRoute => ({
  prefix,
  carriers,
  mode,
  weights: null,
  createdAt: 0,
});

function snapshot(routes: OutboundRoute[]): TrunkingSnapshot {
  return new TrunkingSnapshot({
    accounts: [{ name: 'acme', cpm: null, maxCalls: null, createdAt: 0 }],
    trunks: [trunk('uk', 'UK'), trunk('bare', null)],
    dids: [],
    carriers: [carrier('natin', 'IN-nat', { prefix: '77' }), carrier('sos', null), carrier('plain', null)],
    routes,
    dialPlans: [UK, { ...IN, name: 'IN-nat', format: 'national' }],
  });
}

const noRates = async () => null;

test('the route: emergency route, else the default route, in list order; refusals as the call answers', async () => {
  const s = snapshot([route('+', ['natin', 'plain'], 'lcr'), route('emergency', ['sos', 'plain'])]);
  const uk = s.trunks.get('uk')!.trunk;
  const d = readDialled(s, uk, '999');
  assert.deepEqual(d, { number: '999', emergency: true });
  const r = await decideRoute(s, d as { number: string; emergency: boolean }, noRates, Math.random);
  assert.equal(r.route?.prefix, 'emergency');
  assert.deepEqual(
    r.order.ordered.map((o) => o.carrier.name),
    ['sos', 'plain'],
  );
  // Without its own route: the default route, its list order even when it is lcr (no rate for 999).
  const s2 = snapshot([route('+', ['natin', 'plain'], 'lcr')]);
  const r2 = await decideRoute(s2, { number: '999', emergency: true }, noRates, Math.random);
  assert.deepEqual([r2.route?.prefix, r2.order.ordered.map((o) => o.carrier.name)], ['+', ['natin', 'plain']]);
  assert.equal(calleeForCarrier(s2, s2.carriers.get('natin')!, { number: '999', emergency: true }), '77999');
  const national = readDialled(s2, uk, '02079460000');
  assert.deepEqual(national, { number: '+442079460000', emergency: false });
  assert.equal(calleeForCarrier(s2, s2.carriers.get('natin')!, national as never), '7700442079460000');
  // No route at all: 404; a national number from a trunk without a plan: 484 (the live call's answers).
  const none = snapshot([]);
  const r3 = await decideRoute(none, { number: '999', emergency: true }, noRates, null);
  assert.match(refusalText(r3.refusal!), /^404: No route \(no emergency route and no default route \+ for 999\)$/);
  const bare = readDialled(none, none.trunks.get('bare')!.trunk, '02079460000');
  assert.ok('status' in bare);
  assert.match(refusalText(bare), /^484: Address Incomplete \(a national number .* \(the trunk has no dial plan\)\)$/);
  const ex = await explainRoute(none, 'bare', '02079460000', async () => new Map());
  assert.equal(ex['refused'], refusalText(bare), 'explain says what the call answers');
  const exUk = await explainRoute(s2, 'uk', '112', async () => new Map());
  assert.deepEqual([exUk['number'], exUk['emergency'], exUk['route'], exUk['refused']], ['112', true, '+', null]);
});
