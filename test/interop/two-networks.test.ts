import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import {
  isRequest,
  isResponse,
  rand,
  request,
  response,
  TcpPeer,
  UdpPeer,
  uriHostPort,
  type Received,
} from '../helpers/raw-sip.js';

/**
 * Trunkline between two networks, as an SBC: listeners (UDP and TCP) on
 * 127.0.0.10 (network 1, 127.0.0.0/24) and 127.0.1.10 (network 2,
 * 127.0.1.0/24), all on one port, and a UDP listener on 127.0.2.10 that
 * advertises 127.0.2.99 (a public address behind NAT). Peers on raw sockets
 * on each network see what arrives and from where: a request leaving toward
 * a network goes out from that network's listener with that address in Via
 * and Record-Route; crossing networks it is record-routed twice (each side
 * finds the address it can reach), staying on one network once; in-dialog
 * requests from both sides come back through the right interface.
 */
const NET1 = '127.0.0.10';
const NET2 = '127.0.1.10';
const NET3 = '127.0.2.10';
const NET3_PUBLIC = '127.0.2.99';
const A = '127.0.0.20'; // a caller on network 1
const C = '127.0.0.21'; // a callee on network 1
const B = '127.0.1.20'; // a callee on network 2
const D = '127.0.1.21'; // a caller on network 2
const E = '127.0.2.20'; // a callee behind the NATed listener

let server: RunningTrunkline;
let port: number;
const ports: Record<string, number> = {};
const peers: Array<{ close(): void }> = [];
/** The UDP peers, one per address; tests tell their messages apart by Call-ID. */
let a: UdpPeer, b: UdpPeer, c: UdpPeer, d: UdpPeer, e: UdpPeer;

async function freeOn(host: string, p: number): Promise<boolean> {
  const tcp = await new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(p, host, () => s.close(() => resolve(true)));
  });
  if (!tcp) return false;
  return new Promise<boolean>((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(p, host, () => s.close(() => resolve(true)));
  });
}

/** One port free on every listener address (an SBC listens on 5060 on each side). */
async function sharedPort(hosts: string[]): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await freePort(hosts[0]);
    let ok = true;
    for (const h of hosts.slice(1)) ok &&= await freeOn(h, p);
    if (ok) return p;
  }
  throw new Error('no port free on every listener address');
}

before(async () => {
  port = await sharedPort([NET1, NET2, NET3]);
  for (const [name, host] of [
    ['a', A],
    ['c', C],
    ['b', B],
    ['d', D],
    ['e', E],
    ['aTcp', A],
    ['bTcp', B],
  ] as const)
    ports[name] = await freePort(host);
  server = await startTrunkline(
    [
      'listen:',
      `  - udp:${NET1}:${port}`,
      `  - tcp:${NET1}:${port}`,
      `  - udp:${NET2}:${port}`,
      `  - tcp:${NET2}:${port}`,
      `  - {listen: "udp:${NET3}:${port}", advertise: ${NET3_PUBLIC}}`,
      'sip: {timers: {t1: 100, t2: 4000, t4: 5000}}',
      'routes:',
      `  - {match: {user: "^cross$"}, forward: "sip:${B}:${ports.b}"}`,
      `  - {match: {user: "^stay1$"}, forward: "sip:${C}:${ports.c}"}`,
      `  - {match: {user: "^stay2$"}, forward: "sip:${B}:${ports.b}"}`,
      `  - {match: {user: "^back$"}, forward: "sip:${C}:${ports.c}"}`,
      `  - {match: {user: "^nat$"}, forward: "sip:${E}:${ports.e}"}`,
      `  - {match: {user: "^crosstcp$"}, forward: "sip:${B}:${ports.bTcp};transport=tcp"}`,
      '',
    ].join('\n'),
  );
  [a, b, c, d, e] = await Promise.all([
    udp(A, ports.a!),
    udp(B, ports.b!),
    udp(C, ports.c!),
    udp(D, ports.d!),
    udp(E, ports.e!),
  ]);
});

after(async () => {
  for (const p of peers) p.close();
  if (server !== undefined) assert.equal(await server.stop(), 0, 'trunkline exit code');
});

async function udp(ip: string, p: number): Promise<UdpPeer> {
  const peer = await UdpPeer.open(ip, p);
  peers.push(peer);
  return peer;
}

/** The listener address and port a Record-Route value names, top first. */
function recordRoutes(r: Received): string[] {
  return r.msg.getAll('Record-Route').map(uriHostPort);
}

function topVia(r: Received): string {
  const v = r.msg.vias[0]!;
  return `${v.transport} ${v.host}:${v.port}`;
}

/**
 * An INVITE from `caller` to `listener` for `user`, answered 200 by `callee`;
 * returns what the callee got and what the caller got back.
 */
async function invite(caller: UdpPeer, listener: string, user: string, callee: UdpPeer) {
  const callId = `${rand()}@${caller.ip}`;
  const fromTag = rand();
  caller.send(
    request({
      method: 'INVITE',
      uri: `sip:${user}@${listener}:${port}`,
      via: `SIP/2.0/UDP ${caller.ip}:${caller.port};branch=z9hG4bK${rand()};rport`,
      from: `<sip:caller@${caller.ip}>;tag=${fromTag}`,
      to: `<sip:${user}@${listener}>`,
      callId,
      cseq: 1,
      contact: `<sip:caller@${caller.ip}:${caller.port}>`,
    }),
    listener,
    port,
  );
  const got = await callee.next(isRequest('INVITE', callId), `INVITE ${user} at ${callee.ip}`);
  const toTag = rand();
  // Answered to where it came from (the callee of network 3 could not reach the advertised address).
  callee.send(
    response(got.msg, 200, 'OK', { toTag, contact: `<sip:callee@${callee.ip}:${callee.port}>` }),
    got.address,
    got.port,
  );
  const ok = await caller.next(isResponse(200, 'INVITE', callId), `200 for ${user} at the caller`);
  return { callId, fromTag, toTag, got, ok };
}

test("a request crossing from network 1 to network 2 leaves from 127.0.1.10, record-routed by both sides; in-dialog requests from each side go out on the other side's interface", async () => {
  const { callId, fromTag, toTag, got, ok } = await invite(a, NET1, 'cross', b);
  assert.equal(`${got.address}:${got.port}`, `${NET2}:${port}`, 'sent from the listener of network 2');
  assert.equal(topVia(got), `UDP ${NET2}:${port}`);
  assert.deepEqual(
    recordRoutes(got),
    [`${NET2}:${port}`, `${NET1}:${port}`],
    "the callee's side on top, then the caller's",
  );
  assert.equal(`${ok.address}:${ok.port}`, `${NET1}:${port}`, 'the 200 reaches the caller from the listener it called');
  assert.deepEqual(recordRoutes(ok), [`${NET2}:${port}`, `${NET1}:${port}`]);

  // The caller's ACK along its route set (the Record-Route reversed, RFC 3261 12.1.2).
  const rr = ok.msg.getAll('Record-Route');
  a.send(
    request({
      method: 'ACK',
      uri: `sip:callee@${B}:${ports.b}`,
      via: `SIP/2.0/UDP ${A}:${ports.a};branch=z9hG4bK${rand()};rport`,
      from: `<sip:caller@${A}>;tag=${fromTag}`,
      to: `<sip:cross@${NET1}>;tag=${toTag}`,
      callId,
      cseq: 1,
      routes: [...rr].reverse(),
    }),
    NET1,
    port,
  );
  const ack = await b.next(isRequest('ACK', callId), 'ACK at the callee');
  assert.equal(`${ack.address}:${ack.port}`, `${NET2}:${port}`);
  assert.equal(topVia(ack), `UDP ${NET2}:${port}`);

  // The callee hangs up along its route set (the Record-Route in order): to network 2's address, out on network 1.
  const byeCseq = 1;
  b.send(
    request({
      method: 'BYE',
      uri: `sip:caller@${A}:${ports.a}`,
      via: `SIP/2.0/UDP ${B}:${ports.b};branch=z9hG4bK${rand()};rport`,
      from: `<sip:cross@${NET1}>;tag=${toTag}`,
      to: `<sip:caller@${A}>;tag=${fromTag}`,
      callId,
      cseq: byeCseq,
      routes: got.msg.getAll('Record-Route'),
    }),
    uriHostPort(got.msg.getAll('Record-Route')[0]!).split(':')[0]!,
    port,
  );
  const bye = await a.next(isRequest('BYE', callId), 'BYE at the caller');
  assert.equal(`${bye.address}:${bye.port}`, `${NET1}:${port}`, "the BYE reaches the caller from network 1's listener");
  assert.equal(topVia(bye), `UDP ${NET1}:${port}`);
  assert.equal(bye.msg.getAll('Route').length, 0, 'both of our Route values consumed');
  a.send(response(bye.msg, 200, 'OK'), bye.address, bye.port);
  const byeOk = await b.next(isResponse(200, 'BYE', callId), '200 for the BYE at the callee');
  assert.equal(`${byeOk.address}:${byeOk.port}`, `${NET2}:${port}`);
});

test("a request staying on network 1 or on network 2 leaves from that network's listener, record-routed once", async () => {
  const one = await invite(a, NET1, 'stay1', c);
  assert.equal(`${one.got.address}:${one.got.port}`, `${NET1}:${port}`);
  assert.equal(topVia(one.got), `UDP ${NET1}:${port}`);
  assert.deepEqual(recordRoutes(one.got), [`${NET1}:${port}`]);

  const two = await invite(d, NET2, 'stay2', b);
  assert.equal(
    `${two.got.address}:${two.got.port}`,
    `${NET2}:${port}`,
    "from network 2's listener, not the first of UDP",
  );
  assert.equal(topVia(two.got), `UDP ${NET2}:${port}`);
  assert.deepEqual(recordRoutes(two.got), [`${NET2}:${port}`]);
  assert.equal(`${two.ok.address}:${two.ok.port}`, `${NET2}:${port}`);
});

test('a request crossing from network 2 to network 1 leaves from 127.0.0.10', async () => {
  const r = await invite(d, NET2, 'back', c);
  assert.equal(`${r.got.address}:${r.got.port}`, `${NET1}:${port}`);
  assert.equal(topVia(r.got), `UDP ${NET1}:${port}`);
  assert.deepEqual(recordRoutes(r.got), [`${NET1}:${port}`, `${NET2}:${port}`]);
  assert.equal(`${r.ok.address}:${r.ok.port}`, `${NET2}:${port}`);
});

test('a listener with an advertised address: its socket sends, the advertised address is written in Via and Record-Route', async () => {
  const r = await invite(a, NET1, 'nat', e);
  assert.equal(`${r.got.address}:${r.got.port}`, `${NET3}:${port}`);
  assert.equal(topVia(r.got), `UDP ${NET3_PUBLIC}:${port}`);
  assert.deepEqual(recordRoutes(r.got), [`${NET3_PUBLIC}:${port}`, `${NET1}:${port}`]);
});

test('TCP: the connection toward network 2 is opened from 127.0.1.10; in-dialog requests from both sides come through', async () => {
  const aT = new TcpPeer(A, ports.aTcp!);
  const bT = new TcpPeer(B, ports.bTcp!);
  peers.push(aT, bT);
  await bT.listen();
  // The caller's connection from the port in its Contact, so that requests to it reuse the connection.
  const aConn = await aT.connect(NET1, port, true);
  const callId = `${rand()}@${A}`;
  const fromTag = rand();
  aConn.write(
    request({
      method: 'INVITE',
      uri: `sip:crosstcp@${NET1}:${port};transport=tcp`,
      via: `SIP/2.0/TCP ${A}:${ports.aTcp};branch=z9hG4bK${rand()}`,
      from: `<sip:caller@${A}>;tag=${fromTag}`,
      to: `<sip:crosstcp@${NET1}>`,
      callId,
      cseq: 1,
      contact: `<sip:caller@${A}:${ports.aTcp};transport=tcp>`,
    }),
  );
  const got = await bT.next(isRequest('INVITE', callId), 'INVITE over TCP at the callee');
  assert.equal(got.address, NET2, "the connection comes from network 2's listener address");
  assert.equal(topVia(got), `TCP ${NET2}:${port}`);
  assert.deepEqual(recordRoutes(got), [`${NET2}:${port}`, `${NET1}:${port}`]);
  assert.match(got.msg.getAll('Record-Route')[0]!, /transport=tcp/);
  const toTag = rand();
  got.conn!.write(response(got.msg, 200, 'OK', { toTag, contact: `<sip:callee@${B}:${ports.bTcp};transport=tcp>` }));
  const ok = await aT.next(isResponse(200, 'INVITE', callId), '200 over TCP at the caller');
  aConn.write(
    request({
      method: 'ACK',
      uri: `sip:callee@${B}:${ports.bTcp};transport=tcp`,
      via: `SIP/2.0/TCP ${A}:${ports.aTcp};branch=z9hG4bK${rand()}`,
      from: `<sip:caller@${A}>;tag=${fromTag}`,
      to: `<sip:crosstcp@${NET1}>;tag=${toTag}`,
      callId,
      cseq: 1,
      routes: [...ok.msg.getAll('Record-Route')].reverse(),
    }),
  );
  const ack = await bT.next(isRequest('ACK', callId), 'ACK over TCP at the callee');
  assert.equal(ack.address, NET2);
  assert.equal(topVia(ack), `TCP ${NET2}:${port}`);

  // The callee's BYE on a connection of its own to network 2's listener; it reaches the caller on its connection.
  const bConn = await bT.connect(NET2, port, false);
  bConn.write(
    request({
      method: 'BYE',
      uri: `sip:caller@${A}:${ports.aTcp};transport=tcp`,
      via: `SIP/2.0/TCP ${B}:${bConn.localPort};branch=z9hG4bK${rand()}`,
      from: `<sip:crosstcp@${NET1}>;tag=${toTag}`,
      to: `<sip:caller@${A}>;tag=${fromTag}`,
      callId,
      cseq: 1,
      routes: got.msg.getAll('Record-Route'),
    }),
  );
  const bye = await aT.next(isRequest('BYE', callId), 'BYE over TCP at the caller');
  assert.equal(bye.conn, aConn, "on the caller's own connection");
  assert.equal(topVia(bye), `TCP ${NET1}:${port}`);
  aConn.write(response(bye.msg, 200, 'OK'));
  await bT.next(isResponse(200, 'BYE', callId), '200 for the BYE at the callee');
});
