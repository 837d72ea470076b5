/**
 * Who may still route through the server, on a running server: trusted
 * sources (security.trusted, a `trustRoute: true` rule, a trunk) may
 * preload a Route, a stranger from next door may not; a stranger's call
 * through a forward route works along our stamped Record-Route from both
 * sides (ACK, BYE from the caller; BYE from the callee), and that stamp
 * opens no other dialog; with trunks configured, an in-dialog request for
 * no call of the B2BUA gets 481. Raw packets from 127.0.0.x sockets; the
 * "carrier gateway" and the callee are sockets that record what reaches them.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { cli, sleep } from './helpers.js';
import { elapsedUntil } from '../helpers/wait.js';
import { RawPeer, Gateway, okFor, rawRequest, type Msg } from './raw-sip.js';

const GW = '127.0.0.200';

let server: RunningTrunkline;
let port = 0;
let gw: Gateway;
let callee: Gateway;
const peers: RawPeer[] = [];

async function peer(host: string): Promise<RawPeer> {
  const p = await new RawPeer(host).open();
  peers.push(p);
  return p;
}

before(async () => {
  port = await freePort();
  gw = await new Gateway(GW).open(await freePort(GW), await freePort('::1'));
  callee = await new Gateway('127.0.0.201').open(await freePort('127.0.0.201'), await freePort('::1'));
  // Both answer as a UAS: 200 to anything but an ACK.
  gw.answer = (req) => (req.method === 'ACK' ? null : okFor(req, `sip:gw@${GW}:${gw.port}`, 'gw1'));
  callee.answer = (req) =>
    req.method === 'ACK' ? null : okFor(req, `sip:callee@127.0.0.201:${callee.port}`, 'callee1');
  server = await startTrunkline(
    [
      `listen: [udp:127.0.0.1:${port}, tcp:127.0.0.1:${port}]`,
      'security: {trusted: [127.0.0.9/32]}',
      'routes:',
      '  - {match: {source: 127.0.0.10/32}, trustRoute: true}',
      `  - {match: {user: "^callee$"}, forward: "sip:127.0.0.201:${callee.port}"}`,
      '',
    ].join('\n'),
  );
});

after(async () => {
  for (const p of peers) p.close();
  gw?.close();
  callee?.close();
  await server?.stop();
});

function expectAnswer(r: Msg | null, status: number, reason: string, what: string): void {
  assert.ok(r !== null, `${what}: no answer`);
  assert.equal(`${r.status} ${r.reason}`, `${status} ${reason}`, what);
}

const message = (p: RawPeer, user: string): Promise<Msg | null> =>
  p.ask(port, { method: 'MESSAGE', ruri: `sip:${user}@127.0.0.1:${port}`, routes: [`<sip:${GW}:${gw.port};lr>`] });
const relayed = (user: string): number =>
  gw.requests('MESSAGE').filter((m) => m.text.startsWith(`MESSAGE sip:${user}@`)).length;

test('security.trusted and a trustRoute rule may preload a Route (followed); a stranger may not', async () => {
  expectAnswer(await message(await peer('127.0.0.9'), 'trusted'), 200, 'OK', 'security.trusted');
  assert.equal(relayed('trusted'), 1, gw.summary());
  expectAnswer(await message(await peer('127.0.0.10'), 'rule'), 200, 'OK', 'trustRoute rule');
  assert.equal(relayed('rule'), 1, gw.summary());
  expectAnswer(await message(await peer('127.0.0.11'), 'stranger'), 403, 'Foreign Route Not Allowed', 'stranger');
  assert.equal(relayed('stranger'), 0, gw.summary());
});

test('a call through a forward route: ACK and BYE follow our stamped Record-Route both ways; the stamp opens no other dialog', async () => {
  const caller = await peer('127.0.0.31');
  const callId = 'call-1@127.0.0.31';
  const ok = await caller.ask(port, {
    method: 'INVITE',
    ruri: `sip:callee@127.0.0.1:${port}`,
    fromTag: 'caller1',
    callId,
  });
  expectAnswer(ok, 200, 'OK', 'INVITE');
  const rr = ok!.headers('Record-Route');
  assert.equal(rr.length, 1, ok!.text);
  assert.match(rr[0]!, new RegExp(`^<sip:127\\.0\\.0\\.1:${port};lr;dsig=[A-Za-z0-9_-]{16}>$`));
  const contact = `sip:callee@127.0.0.201:${callee.port}`;
  // RFC 3261 12.2.1.1: Request-URI the callee's Contact, Route the Record-Route set.
  const inDialog = { ruri: contact, routes: rr, fromTag: 'caller1', toTag: 'callee1', callId };
  caller.send(caller.request({ method: 'ACK', ...inDialog }).bytes, port);
  expectAnswer(await caller.ask(port, { method: 'INFO', cseq: 2, ...inDialog }), 200, 'OK', 'INFO from the caller');
  assert.ok(
    (await elapsedUntil(() => callee.requests('ACK').length === 1, { timeoutMs: 2000 })) >= 0,
    callee.summary(),
  );

  // The stamp of this dialog, brought in another one: refused, the callee gets nothing.
  const stamp = /dsig=([^;>]+)/.exec(rr[0]!)![1]!;
  const flipped = `${stamp.slice(0, -1)}${stamp.endsWith('A') ? 'B' : 'A'}`;
  const stranger = await peer('127.0.0.32');
  const forgeries: Array<[string, object]> = [
    ['another Call-ID', { callId: 'call-2@127.0.0.32' }],
    ['other tags', { fromTag: 'x1', toTag: 'x2' }],
    ['one character changed', { routes: [rr[0]!.replace(stamp, flipped)] }],
  ];
  const byesBefore = callee.requests('BYE').length;
  for (const [what, o] of forgeries) {
    expectAnswer(
      await stranger.ask(port, { method: 'BYE', cseq: 3, ...inDialog, ...o }),
      403,
      'Unverified Dialog Route',
      what,
    );
  }
  await sleep(200);
  assert.equal(callee.requests('BYE').length, byesBefore, callee.summary());

  // The callee hangs up: its BYE carries the caller's tag as To tag, and is relayed to the caller.
  const bye = rawRequest(callee.host, callee.port, 'UDP', {
    method: 'BYE',
    ruri: `sip:caller@127.0.0.31:${caller.port}`,
    routes: rr,
    fromTag: 'callee1',
    toTag: 'caller1',
    callId,
    cseq: 1,
  });
  callee.send(bye.bytes, port);
  let got: Msg | undefined;
  assert.ok(
    (await elapsedUntil(() => (got = caller.inbox.find((m) => m.method === 'BYE')) !== undefined, {
      timeoutMs: 2000,
    })) >= 0,
    "the callee's BYE reached the caller",
  );
  caller.send(Buffer.from(okFor(got!, `sip:caller@127.0.0.31:${caller.port}`, 'caller1')), port);
  assert.ok(
    (await elapsedUntil(() => callee.received.some((r) => r.msg.status === 200 && r.msg.header('CSeq') === '1 BYE'), {
      timeoutMs: 2000,
    })) >= 0,
    callee.summary(),
  );
});

test('a trunk may preload a Route; with trunks configured, an in-dialog request for no call gets 481 from anyone', async () => {
  for (const args of [
    ['account', 'add', 'acme'],
    ['trunk', 'add', 'pbx', '--account', 'acme', '--ip', '127.0.0.12/32', '--dest', 'sip:127.0.0.12:5060'],
  ]) {
    const r = await cli(server.configFile, args);
    assert.equal(r.code, 0, r.stderr);
  }
  // The server reads the store within 2 s.
  const trunk = await peer('127.0.0.12');
  let last: Msg | null = null;
  const took = await elapsedUntil(async () => (last = await message(trunk, 'trunk'))?.status === 200, {
    timeoutMs: 5000,
    intervalMs: 400,
  });
  assert.ok(took >= 0, `trunk: ${last === null ? 'no answer' : (last as Msg).text}`);
  assert.ok(relayed('trunk') >= 1, gw.summary());

  // RFC 3261 12.2.2: a BYE inside a dialog that does not exist.
  for (const p of [trunk, await peer('127.0.0.13')]) {
    for (const method of ['BYE', 'INFO', 'UPDATE']) {
      const r = await p.ask(port, { method, ruri: `sip:b2bua@127.0.0.1:${port}`, toTag: 'nocall' });
      expectAnswer(r, 481, 'Call/Transaction Does Not Exist', `${method} for no call from ${p.host}`);
    }
  }
});
