/**
 * No open relay through the Route header, on a running server with the
 * default config (no routes:), with raw packets from strangers (127.0.0.x
 * sockets of their own) and a "carrier gateway" (UDP on 127.0.0.200 and
 * [::1], TCP) that must receive nothing: initial requests whose Route names
 * another host (preloaded, several, strict, listed after ours, sips over
 * UDP, IPv6, compact headers, over TCP) get 403 Foreign Route Not Allowed;
 * in-dialog requests of every method that did not come along a
 * Record-Route of ours get 403 Unverified Dialog Route (a CANCEL 481, an
 * ACK absorbed); the server sends no request at all, and /metrics counts
 * them as trunkline_security_drops_total{reason=foreign-route|forged-dialog}.
 * Trusted sources and real dialogs: route-trust.test.ts.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { sleep } from './helpers.js';
import { RawPeer, Gateway, tcpAsk, apiOf, requestCounts, securityDrops, type Msg, type RawOptions } from './raw-sip.js';

const GW = '127.0.0.200';
const METHODS = [
  'INVITE',
  'ACK',
  'BYE',
  'CANCEL',
  'OPTIONS',
  'PRACK',
  'UPDATE',
  'INFO',
  'REFER',
  'NOTIFY',
  'SUBSCRIBE',
  'MESSAGE',
  'PUBLISH',
  'REGISTER',
];

let a: RunningTrunkline; // the default config
let portA = 0;
let apiA = '';
let gw: Gateway;
const peers: RawPeer[] = [];

async function peer(host: string): Promise<RawPeer> {
  const p = await new RawPeer(host).open();
  peers.push(p);
  return p;
}

before(async () => {
  portA = await freePort();
  gw = await new Gateway(GW).open(await freePort(GW), await freePort('::1'));
  a = await startTrunkline(`listen: [udp:127.0.0.1:${portA}, tcp:127.0.0.1:${portA}]\n`);
  apiA = apiOf(a.output());
});

after(async () => {
  for (const p of peers) p.close();
  gw?.close();
  await a?.stop();
});

/** Nothing reached the gateway, and server A sent no request at all (only answers). */
async function nothingRelayed(what: string): Promise<void> {
  await sleep(300);
  assert.equal(gw.received.length, 0, `${what}: the gateway received\n${gw.summary()}`);
  const counts = await requestCounts(apiA);
  assert.equal(counts.outTotal, 0, `${what}: requests sent by the server: ${JSON.stringify(counts.out)}`);
}

function expectAnswer(r: Msg | null, status: number, reason: string, what: string): void {
  assert.ok(r !== null, `${what}: no answer`);
  assert.equal(`${r.status} ${r.reason}`, `${status} ${reason}`, what);
}

test('initial requests whose Route names another host, from strangers: 403 Foreign Route Not Allowed, nothing relayed', async () => {
  const us = `sip:127.0.0.1:${portA};lr`;
  const gwRoute = `<sip:${GW}:${gw.port};lr>`;
  const cases: Array<[string, Partial<RawOptions>]> = [
    ['a preloaded Route', { routes: [gwRoute] }],
    ['ours first, then the gateway, in one line', { routes: [`<${us}>, ${gwRoute}`] }],
    ['ours first, then the gateway, two lines', { routes: [`<${us}>`, gwRoute] }],
    ['the gateway, then ours', { routes: [gwRoute, `<${us}>`] }],
    ['a strict route (no lr)', { routes: [`<sip:${GW}:${gw.port}>`] }],
    ['sips over UDP', { routes: [`<sips:${GW}:${gw.port};lr>`] }],
    ['an IPv6 gateway', { routes: [`<sip:[::1]:${gw.port6};lr>`] }],
    [
      'a display name, transport and header parameters',
      { routes: [`"carrier" <sip:${GW}:${gw.port};transport=udp;lr>;x=1`] },
    ],
    ['ours named localhost, then the gateway', { routes: [`<sip:localhost:${portA};lr>`, gwRoute] }],
    ['ours with a forged stamp, then the gateway', { routes: [`<${us};dsig=AAAAAAAAAAAAAAAA>`, gwRoute] }],
    ['compact header names', { routes: [gwRoute], compact: true }],
  ];
  let n = 0;
  for (const [what, o] of cases) {
    // One stranger per case: the flood step (20 requests / 2 s) must not be what stops them.
    const p = await peer(`127.0.0.${20 + n++}`);
    for (const method of ['INVITE', 'MESSAGE']) {
      const r = await p.ask(portA, { method, ruri: `sip:+15551234567@127.0.0.1:${portA}`, ...o });
      expectAnswer(r, 403, 'Foreign Route Not Allowed', `${what} (${method})`);
    }
  }
  // Every other method that may start something.
  const p = await peer('127.0.0.40');
  for (const method of ['OPTIONS', 'REGISTER', 'SUBSCRIBE', 'REFER', 'NOTIFY', 'PUBLISH', 'INFO', 'UPDATE', 'PRACK']) {
    const r = await p.ask(portA, { method, ruri: `sip:+15551234567@127.0.0.1:${portA}`, routes: [gwRoute] });
    expectAnswer(r, 403, 'Foreign Route Not Allowed', method);
  }
  // Over TCP.
  expectAnswer(
    await tcpAsk('127.0.0.41', portA, {
      method: 'INVITE',
      ruri: `sip:+15551234567@127.0.0.1:${portA}`,
      routes: [gwRoute],
    }),
    403,
    'Foreign Route Not Allowed',
    'TCP',
  );
  await nothingRelayed('initial requests');
  assert.equal(await securityDrops(apiA, 'foreign-route'), cases.length * 2 + 9 + 1);
});

test("a foreign Request-URI with no Route keeps 403 Relaying Denied; a Route of only ourselves is an outbound proxy's", async () => {
  const p = await peer('127.0.0.42');
  const ruri = `sip:+15551234567@${GW}:${gw.port}`;
  expectAnswer(await p.ask(portA, { method: 'INVITE', ruri }), 403, 'Relaying Denied', 'no Route');
  expectAnswer(
    await p.ask(portA, { method: 'INVITE', ruri, routes: [`<sip:127.0.0.1:${portA};lr>`] }),
    403,
    'Relaying Denied',
    'a Route of ours only',
  );
  // A strict router's shape: our URI as Request-URI, the real one last in Route (RFC 3261 16.4).
  expectAnswer(
    await p.ask(portA, { method: 'MESSAGE', ruri: `sip:127.0.0.1:${portA};lr`, routes: [`<${ruri}>`] }),
    403,
    'Relaying Denied',
    'strict router shape',
  );
  await nothingRelayed('foreign Request-URI');
});

test('in-dialog requests of every method not along a Record-Route of ours: 403 Unverified Dialog Route (CANCEL 481, ACK absorbed)', async () => {
  const gwUri = `sip:callee@${GW}:${gw.port}`;
  const variants: Array<[string, Partial<RawOptions>]> = [
    ['the gateway as Request-URI, no Route', { ruri: gwUri }],
    ['a Route of our address without a stamp', { ruri: gwUri, routes: [`<sip:127.0.0.1:${portA};lr>`] }],
    [
      'a Route of ours with a forged stamp',
      { ruri: gwUri, routes: [`<sip:127.0.0.1:${portA};lr;dsig=AAAAAAAAAAAAAAAA>`] },
    ],
    ['a Route of ours with a stamp of the wrong size', { ruri: gwUri, routes: [`<sip:127.0.0.1:${portA};lr;dsig=x>`] }],
    [
      'us as Request-URI, the gateway as Route',
      { ruri: `sip:callee@127.0.0.1:${portA}`, routes: [`<sip:${GW}:${gw.port};lr>`] },
    ],
    ["a strict router's shape", { ruri: `sip:127.0.0.1:${portA};lr`, routes: [`<${gwUri}>`] }],
    ['sips over UDP', { ruri: `sips:callee@${GW}:${gw.port}` }],
    ['an IPv6 Request-URI', { ruri: `sip:callee@[::1]:${gw.port6}` }],
    ['compact header names', { ruri: gwUri, compact: true }],
  ];
  let forged = 0;
  let n = 0;
  let ackPeer: RawPeer | null = null;
  for (const method of METHODS) {
    const p = await peer(`127.0.0.${50 + n++}`);
    for (const [what, o] of variants) {
      const label = `${method}: ${what}`;
      const req = { method, toTag: 'forged1', ...o } as RawOptions;
      if (method === 'ACK') {
        p.send(p.request(req).bytes, portA);
        forged++;
        continue;
      }
      const r = await p.ask(portA, req);
      if (method === 'CANCEL') {
        // A CANCEL is never relayed along anything: it matches an INVITE of ours or gets 481.
        expectAnswer(r, 481, 'Call/Transaction Does Not Exist', label);
        continue;
      }
      expectAnswer(r, 403, 'Unverified Dialog Route', label);
      forged++;
    }
    if (method === 'ACK') ackPeer = p;
  }
  expectAnswer(
    await tcpAsk('127.0.0.49', portA, { method: 'BYE', ruri: gwUri, toTag: 'forged1' }),
    403,
    'Unverified Dialog Route',
    'TCP',
  );
  forged++;
  await nothingRelayed('in-dialog requests');
  assert.equal(ackPeer?.inbox.length, 0, 'an ACK is never answered');
  assert.equal(await securityDrops(apiA, 'forged-dialog'), forged);
});
