/**
 * The policy steps one by one: each decision function on real parsed
 * messages, with its defaults and its switches.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SipMessage } from '../../src/sip/message.js';
import { BanList } from '../../src/security/ban-list.js';
import { FloodDetector, looksLikeResponse } from '../../src/security/flood.js';
import { ScannerFilter, DEFAULT_SCANNER_AGENTS } from '../../src/security/scanners.js';
import { checkSanity, SANITY_CHECKS, type SanityChecks } from '../../src/security/sanity.js';
import { AccessList } from '../../src/security/acl.js';
import { SecurityLists } from '../../src/security/lists.js';
import { suspiciousDisplayName, suspiciousUser } from '../../src/security/sqli.js';
import { checkCallBarring, localTime, parseDays, parseClock } from '../../src/security/call-barring.js';
import { BanningFailureCounter } from '../../src/security/brute-force.js';
import { TrustedAddresses } from '../../src/security/trust.js';
import { securitySchema, defaultSecurityConfig } from '../../src/security/config.js';
import { configSchema } from '../../src/config/schema.js';
import { msg } from '../helpers/sip-messages.js';

function req(
  o: { method?: string; ruri?: string; from?: string; to?: string; ua?: string; extra?: string[] } = {},
): SipMessage {
  const method = o.method ?? 'INVITE';
  return msg([
    `${method} ${o.ruri ?? 'sip:+33140000000@example.org'} SIP/2.0`,
    'Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKsec1',
    'Max-Forwards: 70',
    `From: ${o.from ?? '"Alice" <sip:alice@example.net>;tag=a1'}`,
    `To: ${o.to ?? '<sip:+33140000000@example.org>'}`,
    'Call-ID: sec@example.net',
    `CSeq: 1 ${method}`,
    ...(o.ua !== undefined ? [`User-Agent: ${o.ua}`] : []),
    ...(o.extra ?? []),
  ]);
}

class Clock {
  t = 1_700_000_000_000;
  now = (): number => this.t;
}

function logs(): {
  lines: Array<{ obj: Record<string, unknown>; msg: string }>;
  info: (o: object, m: string) => void;
  warn: (o: object, m: string) => void;
} {
  const lines: Array<{ obj: Record<string, unknown>; msg: string }> = [];
  const push = (obj: object, m: string): void => void lines.push({ obj: obj as Record<string, unknown>, msg: m });
  return { lines, info: push, warn: push };
}

test('ban list: a ban drops until it expires, and its end by time is logged once', () => {
  const clock = new Clock();
  const log = logs();
  const bans = new BanList({ now: clock.now, log });
  assert.equal(bans.isBanned('192.0.2.9'), false);
  assert.ok(bans.add('192.0.2.9', 'test', 10, 'manual'));
  assert.equal(bans.isBanned('192.0.2.9'), true);
  assert.equal(bans.isBanned('192.0.2.10'), false);
  clock.t += 9_999;
  assert.equal(bans.isBanned('192.0.2.9'), true);
  clock.t += 1;
  assert.equal(bans.isBanned('192.0.2.9'), false);
  assert.equal(bans.isBanned('192.0.2.9'), false);
  assert.equal(log.lines.filter((l) => l.msg === 'ban lifted: expired').length, 1);
  assert.equal(bans.dropped, 2);
});

test('ban list: a shorter ban does not shorten a longer one; sweep lifts expired bans', () => {
  const clock = new Clock();
  const bans = new BanList({ now: clock.now });
  assert.ok(bans.add('2001:DB8::1', 'a', 100, 'flood'));
  assert.equal(bans.add('2001:db8::1', 'b', 10, 'flood'), null);
  assert.equal(bans.isBanned('2001:db8::1'), true);
  clock.t += 100_000;
  assert.equal(bans.sweep(), 1);
  assert.equal(bans.size, 0);
});

test('ban list: a trusted address is listed but never enforced', () => {
  const log = logs();
  const bans = new BanList({ isTrusted: (ip) => ip === '198.51.100.1', log });
  bans.add('198.51.100.1', 'flood', 300, 'flood');
  assert.equal(bans.isBanned('198.51.100.1'), false);
  assert.equal(bans.list().length, 1);
  assert.ok(log.lines.some((l) => l.msg === 'ban of a trusted address not enforced'));
});

test('ban list: reconciling with the store adds new bans and lifts removed ones by hand (logged)', () => {
  const clock = new Clock();
  const log = logs();
  const bans = new BanList({ now: clock.now, log });
  const lifted: string[] = [];
  bans.onLift = (ip, how) => lifted.push(`${ip} ${how}`);
  bans.replaceFromStore([{ ip: '192.0.2.1', reason: 'cli', expiresAt: null, createdAt: clock.t }]);
  assert.equal(bans.isBanned('192.0.2.1'), true);
  // A ban of this process not yet written stays.
  bans.add('192.0.2.2', 'flood', 300, 'flood');
  clock.t += 10;
  bans.replaceFromStore([], clock.t);
  assert.equal(bans.isBanned('192.0.2.1'), false);
  assert.equal(bans.isBanned('192.0.2.2'), true);
  assert.deepEqual(lifted, ['192.0.2.1 by hand']);
  assert.ok(log.lines.some((l) => l.msg === 'ban lifted by hand' && l.obj.ip === '192.0.2.1'));
  // Written later, then removed from the store: lifted.
  bans.markPersisted('192.0.2.2');
  clock.t += 10;
  bans.replaceFromStore([], clock.t);
  assert.equal(bans.isBanned('192.0.2.2'), false);
});

test('flood: the 21st request in a 2 s unit crosses (pike defaults), once; a new unit starts afresh', () => {
  const clock = new Clock();
  const f = new FloodDetector({ density: 20, unit: 2, now: clock.now });
  for (let i = 0; i < 20; i++) assert.equal(f.hit('192.0.2.7'), false);
  assert.equal(f.hit('192.0.2.7'), true);
  assert.equal(f.hit('192.0.2.7'), false);
  assert.equal(f.hit('192.0.2.8'), false);
  clock.t += 2000;
  for (let i = 0; i < 20; i++) assert.equal(f.hit('192.0.2.7'), false);
  assert.equal(f.floods, 1);
});

test("flood: a burst that straddles another source's unit boundary still crosses at its 21st request (each source's unit starts at its first request)", () => {
  const clock = new Clock();
  const f = new FloodDetector({ density: 20, unit: 2, now: clock.now });
  assert.equal(f.hit('192.0.2.1'), false); // an earlier source, whose unit the clock runs through
  clock.t += 1900;
  for (let i = 0; i < 10; i++) assert.equal(f.hit('192.0.2.9'), false);
  clock.t += 200; // 2.1 s after the first source: a table swapped every 2 s would have forgotten these 10
  for (let i = 0; i < 10; i++) assert.equal(f.hit('192.0.2.9'), false);
  assert.equal(f.hit('192.0.2.9'), true, 'the 21st request within 200 ms');
  clock.t += 2000;
  assert.equal(f.hit('192.0.2.9'), false, 'a new unit after the last one ran out');
  assert.equal(f.floods, 1);
});

test('flood: a trusted source never crosses; the table is bounded', () => {
  const f = new FloodDetector({ density: 2, unit: 2, isTrusted: (ip) => ip === '203.0.113.5', maxSources: 3 });
  for (let i = 0; i < 10; i++) assert.equal(f.hit('203.0.113.5'), false);
  assert.equal(f.trustedOver, 1);
  f.hit('192.0.2.1');
  f.hit('192.0.2.2');
  f.hit('192.0.2.3');
  assert.equal(f.untracked, 1);
  assert.equal(looksLikeResponse(Buffer.from('SIP/2.0 200 OK\r\n')), true);
  assert.equal(looksLikeResponse(Buffer.from('OPTIONS sip:x SIP/2.0\r\n')), false);
});

test('trusted addresses: configured CIDRs, the server itself exactly, and the trunking hook', () => {
  const t = new TrustedAddresses(['203.0.113.0/24'], ['127.0.0.1', '0.0.0.0'], true);
  assert.equal(t.isTrusted('203.0.113.77'), true);
  assert.equal(t.isTrusted('127.0.0.1'), true);
  assert.equal(t.isTrusted('127.0.0.3'), false);
  assert.equal(t.isTrusted('0.0.0.0'), false);
  let changed = 0;
  t.onChange(() => changed++);
  t.setExtra(['198.51.100.10']);
  assert.equal(t.isTrusted('198.51.100.10'), true);
  assert.equal(changed, 1);
  const noSelf = new TrustedAddresses([], ['127.0.0.1'], false);
  assert.equal(noSelf.isTrusted('127.0.0.1'), false);
});

test('scanners: the default list matches case-insensitively as a substring', () => {
  const f = new ScannerFilter(DEFAULT_SCANNER_AGENTS);
  assert.equal(f.match(req({ ua: 'friendly-scanner' })), 'friendly-scanner');
  assert.equal(f.match(req({ ua: 'SIPVicious 0.3' })), 'sipvicious');
  assert.equal(f.match(req({ ua: 'my test agent 1.0' })), 'test agent');
  assert.equal(f.match(req({ ua: 'Asterisk PBX 20.5' })), null);
  assert.equal(f.match(req()), null);
  assert.equal(new ScannerFilter([]).match(req({ ua: 'friendly-scanner' })), null);
});

const ALL: SanityChecks = Object.fromEntries(SANITY_CHECKS.map((c) => [c, true])) as SanityChecks;

test('sanity: each check refuses its fault with the reason, and can be switched off', () => {
  assert.equal(checkSanity(req(), ALL), null);
  const cases: Array<[SipMessage, string, number]> = [
    [req({ ruri: 'http://example.org/' }), 'uriScheme', 416],
    [
      req({ method: 'REGISTER', ruri: 'sip:example.org', extra: ['Contact: <sip:a@192.0.2.1>;expires=soon'] }),
      'expires',
      400,
    ],
    [req({ extra: ['Proxy-Require: foo'] }), 'proxyRequire', 420],
    [req({ extra: ['Authorization: Digest username="a", realm=, nonce="x"'] }), 'digest', 400],
    [req({ from: '<sip:alice@example.net>;tag=a1;tag=a2' }), 'duplicateTags', 400],
  ];
  for (const [m, check, status] of cases) {
    const f = checkSanity(m, ALL);
    assert.ok(f !== null, `${check} must fail`);
    assert.equal(f.check, check);
    assert.equal(f.status, status);
    assert.ok(f.reason.length > 0);
    assert.equal(checkSanity(m, { ...ALL, [check]: false }), null, `${check} off`);
  }
  assert.deepEqual(checkSanity(req({ extra: ['Proxy-Require: foo'] }), ALL)!.headers, [['Unsupported', 'foo']]);
});

test('acl: deny wins, an allow list admits only its members, per method and direction', () => {
  const acl = new AccessList([
    { group: 'carriers', action: 'allow', cidr: '198.51.100.0/24', method: 'INVITE', direction: 'inbound' },
    { group: 'bad', action: 'deny', cidr: '203.0.113.66', method: '*', direction: 'any' },
    { group: 'pbx', action: 'allow', cidr: '192.0.2.0/28', method: 'REGISTER', direction: 'any' },
  ]);
  assert.equal(acl.decide('203.0.113.66', 'OPTIONS').allowed, false);
  assert.equal(acl.decide('203.0.113.66', 'OPTIONS').entry?.group, 'bad');
  assert.equal(acl.decide('192.0.2.3', 'REGISTER').allowed, true);
  assert.equal(acl.decide('192.0.2.99', 'REGISTER').allowed, false);
  assert.equal(acl.decide('192.0.2.99', 'INVITE').allowed, true); // direction unknown: the inbound rule waits for the trunking stage
  assert.equal(acl.decide('192.0.2.99', 'INVITE', 'inbound').allowed, false);
  assert.equal(acl.decide('198.51.100.20', 'INVITE', 'inbound').allowed, true);
  assert.equal(acl.decide('192.0.2.99', 'INVITE', 'outbound').allowed, true);
  assert.equal(new AccessList([]).decide('1.2.3.4', 'INVITE').allowed, true);
});

test('lists: blacklists per kind, whitelists win, dest by longest prefix', () => {
  const lists = new SecurityLists([
    { list: 'black', kind: 'ua', value: 'BadPhone' },
    { list: 'white', kind: 'ua', value: 'badphone pro' },
    { list: 'black', kind: 'ip', value: '203.0.113.0/24' },
    { list: 'white', kind: 'ip', value: '203.0.113.9' },
    { list: 'black', kind: 'domain', value: 'evil.example' },
    { list: 'black', kind: 'user', value: 'mallory' },
    { list: 'black', kind: 'dest', value: '+1900' },
    { list: 'black', kind: 'dest', value: '+44' },
    { list: 'white', kind: 'dest', value: '+4420' },
  ]);
  const ok = req();
  assert.equal(lists.check(ok, '192.0.2.1'), null);
  assert.equal(lists.check(req({ ua: 'badphone 2' }), '192.0.2.1')?.kind, 'ua');
  assert.equal(lists.check(req({ ua: 'BadPhone Pro 3' }), '192.0.2.1'), null);
  assert.equal(lists.check(ok, '203.0.113.5')?.kind, 'ip');
  assert.equal(lists.check(req({ ua: 'badphone 2' }), '203.0.113.9'), null);
  assert.equal(lists.check(req({ from: '<sip:a@sip.evil.example>;tag=1' }), '192.0.2.1')?.kind, 'domain');
  assert.equal(lists.check(req({ from: '<sip:mallory@example.net>;tag=1' }), '192.0.2.1')?.kind, 'user');
  assert.equal(lists.check(req({ ruri: 'sip:+19005550100@example.org' }), '192.0.2.1')?.kind, 'dest');
  assert.equal(lists.check(req({ ruri: 'tel:+19005550100' }), '192.0.2.1')?.kind, 'dest');
  assert.equal(lists.checkDestination('+441234')?.kind, 'dest');
  assert.equal(lists.checkDestination('+442071234567'), null);
  assert.equal(lists.checkDestination('+33123'), null);
});

test('lists: a stored row that no longer parses is left out and named; the other rows still apply', () => {
  const lists = new SecurityLists([
    { list: 'black', kind: 'ip', value: '10.0.0.0/' },
    { list: 'black', kind: 'ip', value: '203.0.113.0/24' },
  ]);
  assert.equal(lists.skipped.length, 1);
  assert.match(lists.skipped[0]!, /black ip "10\.0\.0\.0\/"/);
  assert.equal(lists.size, 1);
  assert.equal(lists.check(req(), '203.0.113.5')?.kind, 'ip');
  assert.equal(lists.check(req(), '10.1.2.3'), null);
});

test('lists: SQL-injection-like user parts and display names are refused, ordinary ones pass', () => {
  const lists = new SecurityLists([]);
  assert.equal(lists.check(req({ ruri: "sip:1'or'1'='1@example.org" }), '192.0.2.1')?.kind, 'sqli');
  assert.equal(lists.check(req({ from: '<sip:a%27--@example.net>;tag=1' }), '192.0.2.1')?.kind, 'sqli');
  assert.equal(
    lists.check(req({ from: `"x'; drop table subscriber; --" <sip:a@example.net>;tag=1` }), '192.0.2.1')?.kind,
    'sqli',
  );
  assert.equal(lists.check(req({ from: `"Miles O'Brien" <sip:miles@example.net>;tag=1` }), '192.0.2.1'), null);
  assert.equal(new SecurityLists([], false).check(req({ ruri: "sip:1'or'1'='1@example.org" }), '192.0.2.1'), null);
  assert.equal(suspiciousUser('+14155550100'), false);
  assert.equal(suspiciousUser('alice.smith'), false);
  assert.equal(suspiciousUser('1%27%20union%20select'), true);
  assert.equal(suspiciousDisplayName('Alice /* x */'), true);
});

test('call barring: prefixes barred outside office hours in the account time zone', () => {
  const rules = [
    {
      account: 'acme',
      prefixes: ['+', '00'],
      timeZone: 'Asia/Kolkata',
      days: parseDays('mon-fri')!,
      from: parseClock('09:00')!,
      to: parseClock('18:00')!,
      bar: 'outside' as const,
    },
    {
      trunk: 'lobby',
      prefixes: ['+1900'],
      timeZone: 'UTC',
      days: parseDays('mon-sun')!,
      from: 0,
      to: 1440,
      bar: 'always' as const,
    },
  ];
  // Monday 2026-11-23 05:00 UTC = 10:30 in Kolkata: open.
  const monMorning = new Date('2026-11-23T05:00:00Z');
  assert.deepEqual(
    checkCallBarring(rules, { account: 'acme', trunk: 'pbx', dialled: '+442071234567', now: monMorning }),
    { barred: false },
  );
  // Monday 14:00 UTC = 19:30 in Kolkata: barred.
  const v = checkCallBarring(rules, {
    account: 'acme',
    trunk: 'pbx',
    dialled: '+442071234567',
    now: new Date('2026-11-23T14:00:00Z'),
  });
  assert.equal(v.barred, true);
  if (v.barred) assert.match(v.reason, /outside mon,tue,wed,thu,fri 09:00-18:00 Asia\/Kolkata/);
  // Saturday: barred all day; another account: not concerned.
  assert.equal(
    checkCallBarring(rules, { account: 'acme', trunk: null, dialled: '0044123', now: new Date('2026-11-28T06:00:00Z') })
      .barred,
    true,
  );
  assert.equal(
    checkCallBarring(rules, { account: 'other', trunk: null, dialled: '+44123', now: new Date('2026-11-28T06:00:00Z') })
      .barred,
    false,
  );
  assert.equal(
    checkCallBarring(rules, { account: 'other', trunk: 'lobby', dialled: '+19005550100', now: monMorning }).barred,
    true,
  );
  assert.deepEqual(localTime(new Date('2026-11-23T23:30:00Z'), 'Asia/Kolkata'), { day: 2, minutes: 5 * 60 });
  assert.equal(parseDays('fri-mon')!.size, 4);
  assert.equal(parseDays('funday'), null);
  assert.equal(parseClock('24:00'), 1440);
  assert.equal(parseClock('24:01'), null);
});

test('brute force: 3 failures from one IP, or against one user, ban the failing IP', () => {
  const bans: Array<[string, string]> = [];
  const c = new BanningFailureCounter(
    { threshold: 3, window: 60, banSeconds: 300 },
    (ip, reason) => void bans.push([ip, reason]),
  );
  c.record('192.0.2.1', 'alice');
  c.record('192.0.2.1', 'bob');
  assert.equal(bans.length, 0);
  c.record('192.0.2.1', 'carol');
  assert.equal(bans.length, 1);
  assert.equal(bans[0]![0], '192.0.2.1');
  // A distributed guess at one user: the IP of the third failure is banned.
  c.record('192.0.2.11', 'dave');
  c.record('192.0.2.12', 'dave');
  c.record('192.0.2.13', 'dave');
  assert.deepEqual(bans[1], ['192.0.2.13', 'brute force: 3 failed authentications against user dave within 60 s']);
});

test('config: the documented defaults; every step has a switch; a bad key is named', () => {
  const d = defaultSecurityConfig();
  assert.equal(d.flood.density, 20);
  assert.equal(d.flood.unit, 2);
  assert.equal(d.flood.banSeconds, 300);
  assert.equal(d.bruteForce.threshold, 3);
  assert.ok(d.scanners.userAgents.includes('friendly-scanner'));
  for (const k of [
    'bans',
    'flood',
    'scanners',
    'maxForwards',
    'keepAlive',
    'sanity',
    'acl',
    'lists',
    'bruteForce',
  ] as const)
    assert.equal(d[k].enabled, true, k);
  const parsed = configSchema.safeParse({ security: { flood: { density: 'many' } } });
  assert.equal(parsed.success, false);
  if (!parsed.success) assert.deepEqual(parsed.error.issues[0]!.path, ['security', 'flood', 'density']);
  const unknown = configSchema.safeParse({ security: { sanity: { checks: { nope: true } } } });
  assert.equal(unknown.success, false);
  const rule = securitySchema.parse({
    callBarring: [
      { account: 'acme', prefixes: ['00'], timeZone: 'Europe/Paris', days: 'mon-fri', from: '08:00', to: '18:00' },
    ],
  });
  assert.equal(rule.callBarring[0]!.from, 480);
  assert.equal(
    securitySchema.safeParse({ callBarring: [{ prefixes: ['00'], timeZone: 'Mars/Olympus' }] }).success,
    false,
  );
  assert.equal(securitySchema.safeParse({ trusted: ['10.0.0.0/33'] }).success, false);
});
