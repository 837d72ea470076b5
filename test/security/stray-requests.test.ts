/**
 * Stray requests from strangers never make the server talk to itself, on a
 * running server: an ACK, CANCEL, PRACK or BYE that matches nothing and is
 * addressed to the server's own address (with a user part, with or without
 * the port) is absorbed or answered (481), and /metrics shows exactly the
 * requests the test sent coming in and none going out (one stray ACK once
 * came back 70 times, until Max-Forwards ran out). A route whose target is
 * the server's own socket is not followed either (RFC 3261 16.5: it is us).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { sleep } from './helpers.js';
import { RawPeer, apiOf, requestCounts, type Msg } from './raw-sip.js';

let server: RunningTrunkline;
let port = 0;
let api = '';
const peers: RawPeer[] = [];

async function peer(host: string): Promise<RawPeer> {
  const p = await new RawPeer(host).open();
  peers.push(p);
  return p;
}

before(async () => {
  port = await freePort();
  server = await startTrunkline(
    [
      `listen: [udp:127.0.0.1:${port}, tcp:127.0.0.1:${port}]`,
      'routes:',
      `  - {match: {user: "^selfsf$"}, forward: "sip:127.0.0.1:${port}"}`,
      `  - {match: {user: "^selfsl$"}, forward: "sip:127.0.0.1:${port}", stateless: true}`,
      '',
    ].join('\n'),
  );
  api = apiOf(server.output());
});

after(async () => {
  for (const p of peers) p.close();
  await server?.stop();
});

function expectAnswer(r: Msg | null, status: number, what: string): void {
  assert.ok(r !== null, `${what}: no answer`);
  assert.equal(r.status, status, `${what}: ${r.status} ${r.reason}`);
}

/** After the requests settle: the server received exactly `sent` of each method and sent no request. */
async function noLoop(sent: Record<string, number>, what: string): Promise<void> {
  await sleep(500);
  const c = await requestCounts(api);
  assert.equal(c.outTotal, 0, `${what}: requests sent by the server: ${JSON.stringify(c.out)}`);
  for (const [method, n] of Object.entries(sent))
    assert.equal(c.in[method] ?? 0, n, `${what}: ${method} received ${JSON.stringify(c.in)}`);
}

test("a stray ACK for the server's own address (with a user part) is absorbed: no ACK to ourselves, no loop", async () => {
  const p = await peer('127.0.0.81');
  const shapes = [
    `sip:test@127.0.0.1:${port}`,
    'sip:test@127.0.0.1',
    `sip:test@localhost:${port}`,
    `sip:127.0.0.1:${port}`,
  ];
  for (const ruri of shapes) p.send(p.request({ method: 'ACK', ruri }).bytes, port);
  // With a To tag (as if for a 2xx), also absorbed.
  for (const ruri of shapes) p.send(p.request({ method: 'ACK', ruri, toTag: 'stray' }).bytes, port);
  await noLoop({ ACK: shapes.length * 2 }, 'stray ACKs');
  assert.equal(p.inbox.length, 0, 'an ACK is never answered');
});

test('a stray CANCEL, PRACK, BYE (and other in-dialog requests) for the server itself: 481, nothing sent to ourselves', async () => {
  const sent: Record<string, number> = { ACK: 8 };
  const p = await peer('127.0.0.82');
  for (const ruri of [`sip:test@127.0.0.1:${port}`, 'sip:test@127.0.0.1']) {
    expectAnswer(await p.ask(port, { method: 'CANCEL', ruri }), 481, `CANCEL ${ruri}`);
    for (const method of ['PRACK', 'BYE', 'INFO', 'UPDATE', 'NOTIFY', 'REFER', 'MESSAGE', 'OPTIONS']) {
      // RFC 3261 12.2.2: a request inside a dialog the server does not have.
      expectAnswer(await p.ask(port, { method, ruri, toTag: 'stray' }), 481, `${method} ${ruri}`);
      sent[method] = (sent[method] ?? 0) + 1;
    }
    sent.CANCEL = (sent.CANCEL ?? 0) + 1;
  }
  await noLoop(sent, 'stray in-dialog requests');
});

test("a route whose target is the server's own socket is not followed: stateful 482, stateless nothing, no loop", async () => {
  const before = (await requestCounts(api)).in;
  const p = await peer('127.0.0.83');
  const r = await p.ask(port, { method: 'MESSAGE', ruri: `sip:selfsf@127.0.0.1:${port}` });
  expectAnswer(r, 482, 'stateful route to ourselves');
  assert.equal(r!.reason, 'Next Hop Is This Server');
  // Stateless: no transaction, so no answer at all; the point is that nothing goes out.
  assert.equal(await p.ask(port, { method: 'MESSAGE', ruri: `sip:selfsl@127.0.0.1:${port}` }, 800), null);
  await noLoop({ MESSAGE: (before.MESSAGE ?? 0) + 2 }, 'routes to ourselves');
});
