import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { createServer } from 'node:net';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import {
  isRequest,
  isResponse,
  rand,
  request,
  response,
  sdp,
  sdpAddress,
  UdpPeer,
  uriHostPort,
  type Received,
} from '../helpers/raw-sip.js';
import { mediaPortRange } from '../media/helpers.js';
import { openStore, type Store } from '../../src/store/index.js';

/**
 * Trunk calls through the B2BUA between two networks: the carrier's gateway
 * on network 1 (127.0.0.30), the customer's PBX on network 2 (127.0.1.30),
 * Trunkline listening on 127.0.0.10 and 127.0.1.10 (one port), no
 * `media.address`. Each leg's Via, Contact and SDP c= carry the address on
 * that leg's side, the packets come from there, and RTP is relayed between
 * the relay's sockets on each side.
 */
const NET1 = '127.0.0.10';
const NET2 = '127.0.1.10';
const CARRIER = '127.0.0.30';
const PBX = '127.0.1.30';
const DID = '+912240001234';

let server: RunningTrunkline;
let store: Store;
let port: number;
let carrier: UdpPeer;
let pbx: UdpPeer;
const rtp: Record<
  'carrier' | 'pbx',
  { sock: Socket; port: number; got: Array<{ data: Buffer; address: string; port: number }> }
> = {} as never;

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

async function rtpSocket(
  ip: string,
): Promise<{ sock: Socket; port: number; got: Array<{ data: Buffer; address: string; port: number }> }> {
  const p = await freePort(ip);
  const sock = createSocket('udp4');
  const got: Array<{ data: Buffer; address: string; port: number }> = [];
  sock.on('message', (data, r) => got.push({ data, address: r.address, port: r.port }));
  await new Promise<void>((resolve) => sock.bind(p, ip, () => resolve()));
  return { sock, port: p, got };
}

before(async () => {
  for (let i = 0; i < 50 && port === undefined; i++) {
    const p = await freePort(NET1);
    if (await freeOn(NET2, p)) port = p;
  }
  const gwPort = await freePort(CARRIER);
  const pbxPort = await freePort(PBX);
  const media = mediaPortRange(200);
  server = await startTrunkline(
    [
      `listen: [udp:${NET1}:${port}, udp:${NET2}:${port}]`,
      `media: {ports: ${media.min}-${media.max}}`,
      'sip: {timers: {t1: 100, t2: 4000, t4: 5000}}',
      'trunking: {gatewayTimeout: 3, ping: {interval: 0}}',
      '',
    ].join('\n'),
  );
  store = await openStore({ kind: 'sqlite', file: `${server.dir}/data/trunkline.db` });
  await store.accounts.add({ name: 'acme' });
  await store.trunks.add({ name: 'pbx', account: 'acme', ip: [`${PBX}/32`], dest: `sip:${PBX}:${pbxPort}` });
  await store.dids.add(DID, 'pbx');
  await store.carriers.add({ name: 'main', gateways: [`sip:${CARRIER}:${gwPort}`] });
  await store.routes.add('+', ['main']);
  carrier = await UdpPeer.open(CARRIER, gwPort);
  pbx = await UdpPeer.open(PBX, pbxPort);
  rtp.carrier = await rtpSocket(CARRIER);
  rtp.pbx = await rtpSocket(PBX);
  // The server sees store changes within 2 s (it polls every second).
  await new Promise((r) => setTimeout(r, 2200));
});

after(async () => {
  carrier?.close();
  pbx?.close();
  rtp.carrier?.sock.close();
  rtp.pbx?.sock.close();
  await store?.close();
  if (server !== undefined) assert.equal(await server.stop(), 0, 'trunkline exit code');
});

function topVia(r: Received): string {
  const v = r.msg.vias[0]!;
  return `${v.transport} ${v.host}:${v.port}`;
}

function contactOf(r: Received): string {
  return uriHostPort(r.msg.get('Contact') ?? '');
}

/** RTP from one side's socket to the relay, arriving at the other side from the relay's socket there. */
async function rtpCrosses(
  from: 'carrier' | 'pbx',
  to: { address: string; port: number },
  expectFrom: string,
): Promise<void> {
  const dst = rtp[from === 'carrier' ? 'pbx' : 'carrier'];
  const before = dst.got.length;
  const pkt = Buffer.alloc(172);
  pkt[0] = 0x80;
  pkt[1] = 0;
  // A few packets (the first latches the sender); bounded in count and time.
  for (let i = 0; i < 40 && dst.got.length === before; i++) {
    pkt.writeUInt16BE(1000 + i, 2);
    rtp[from].sock.send(pkt, to.port, to.address);
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.ok(dst.got.length > before, `RTP from the ${from} reached the other side`);
  assert.equal(
    dst.got[dst.got.length - 1]!.address,
    expectFrom,
    `RTP from the ${from} relayed from the relay's address on the other side`,
  );
}

test("inbound: carrier on network 1 -> PBX on network 2: each leg's Via, Contact and c= on its side; RTP through both sides; BYE back", async () => {
  const callId = `${rand()}@${CARRIER}`;
  const fromTag = rand();
  const from = `<sip:+15551230000@${CARRIER}>;tag=${fromTag}`;
  carrier.send(
    request({
      method: 'INVITE',
      uri: `sip:${DID}@${NET1}:${port}`,
      via: `SIP/2.0/UDP ${CARRIER}:${carrier.port};branch=z9hG4bK${rand()};rport`,
      from,
      to: `<sip:${DID}@${NET1}>`,
      callId,
      cseq: 1,
      contact: `<sip:gw@${CARRIER}:${carrier.port}>`,
      body: sdp(CARRIER, rtp.carrier.port),
    }),
    NET1,
    port,
  );
  const inv = await pbx.next(
    (r) => isRequest('INVITE')(r) && r.msg.get('To')?.includes(DID) === true,
    'INVITE at the PBX',
  );
  assert.equal(`${inv.address}:${inv.port}`, `${NET2}:${port}`, "the PBX leg leaves from network 2's listener");
  assert.equal(topVia(inv), `UDP ${NET2}:${port}`);
  assert.equal(contactOf(inv), `${NET2}:${port}`);
  const offer = sdpAddress(inv.msg.body.toString());
  assert.equal(offer.address, NET2, 'the PBX sees the relay on its own network');

  const pbxTag = rand();
  pbx.send(
    response(inv.msg, 200, 'OK', {
      toTag: pbxTag,
      contact: `<sip:pbx@${PBX}:${pbx.port}>`,
      body: sdp(PBX, rtp.pbx.port),
    }),
    inv.address,
    inv.port,
  );
  const ackAtPbx = await pbx.next(isRequest('ACK', inv.msg.callId), 'ACK at the PBX');
  assert.equal(ackAtPbx.address, NET2);
  assert.equal(topVia(ackAtPbx), `UDP ${NET2}:${port}`);

  const ok = await carrier.next(isResponse(200, 'INVITE', callId), '200 at the carrier');
  assert.equal(`${ok.address}:${ok.port}`, `${NET1}:${port}`);
  assert.equal(contactOf(ok), `${NET1}:${port}`, 'the carrier gets a Contact on its network');
  const answer = sdpAddress(ok.msg.body.toString());
  assert.equal(answer.address, NET1, 'the carrier sees the relay on its own network');
  const toTag = /;tag=([^;>\s]+)/.exec(ok.msg.get('To') ?? '')![1]!;
  carrier.send(
    request({
      method: 'ACK',
      uri: `sip:${uriHostPort(ok.msg.get('Contact')!)}`,
      via: `SIP/2.0/UDP ${CARRIER}:${carrier.port};branch=z9hG4bK${rand()};rport`,
      from,
      to: `<sip:${DID}@${NET1}>;tag=${toTag}`,
      callId,
      cseq: 1,
    }),
    NET1,
    port,
  );

  await rtpCrosses('carrier', answer, NET2);
  await rtpCrosses('pbx', offer, NET1);

  // The PBX hangs up: to Trunkline's Contact on network 2; the BYE reaches the carrier from network 1.
  pbx.send(
    request({
      method: 'BYE',
      uri: `sip:${contactOf(inv)}`,
      via: `SIP/2.0/UDP ${PBX}:${pbx.port};branch=z9hG4bK${rand()};rport`,
      from: `${inv.msg.get('To')};tag=${pbxTag}`,
      to: inv.msg.get('From')!,
      callId: inv.msg.callId,
      cseq: 2,
    }),
    NET2,
    port,
  );
  await pbx.next(isResponse(200, 'BYE', inv.msg.callId), "200 for the PBX's BYE");
  const bye = await carrier.next(isRequest('BYE', callId), 'BYE at the carrier');
  assert.equal(`${bye.address}:${bye.port}`, `${NET1}:${port}`);
  assert.equal(topVia(bye), `UDP ${NET1}:${port}`);
  carrier.send(response(bye.msg, 200, 'OK'), bye.address, bye.port);
});

test('outbound: PBX on network 2 -> carrier on network 1: each leg on its side; BYE from the PBX reaches the carrier from network 1', async () => {
  const callId = `${rand()}@${PBX}`;
  const fromTag = rand();
  const from = `<sip:${DID}@${PBX}>;tag=${fromTag}`;
  pbx.send(
    request({
      method: 'INVITE',
      uri: `sip:+442071234567@${NET2}:${port}`,
      via: `SIP/2.0/UDP ${PBX}:${pbx.port};branch=z9hG4bK${rand()};rport`,
      from,
      to: `<sip:+442071234567@${NET2}>`,
      callId,
      cseq: 1,
      contact: `<sip:pbx@${PBX}:${pbx.port}>`,
      body: sdp(PBX, rtp.pbx.port),
    }),
    NET2,
    port,
  );
  const inv = await carrier.next(
    (r) => isRequest('INVITE')(r) && r.msg.requestUri.includes('+442071234567'),
    'INVITE at the carrier',
  );
  assert.equal(`${inv.address}:${inv.port}`, `${NET1}:${port}`);
  assert.equal(topVia(inv), `UDP ${NET1}:${port}`);
  assert.equal(contactOf(inv), `${NET1}:${port}`);
  const offer = sdpAddress(inv.msg.body.toString());
  assert.equal(offer.address, NET1);
  const gwTag = rand();
  carrier.send(
    response(inv.msg, 200, 'OK', {
      toTag: gwTag,
      contact: `<sip:gw@${CARRIER}:${carrier.port}>`,
      body: sdp(CARRIER, rtp.carrier.port),
    }),
    inv.address,
    inv.port,
  );
  await carrier.next(isRequest('ACK', inv.msg.callId), 'ACK at the carrier');
  const ok = await pbx.next(isResponse(200, 'INVITE', callId), '200 at the PBX');
  assert.equal(`${ok.address}:${ok.port}`, `${NET2}:${port}`);
  assert.equal(contactOf(ok), `${NET2}:${port}`);
  const answer = sdpAddress(ok.msg.body.toString());
  assert.equal(answer.address, NET2);
  const toTag = /;tag=([^;>\s]+)/.exec(ok.msg.get('To') ?? '')![1]!;
  const to = `<sip:+442071234567@${NET2}>;tag=${toTag}`;
  pbx.send(
    request({
      method: 'ACK',
      uri: `sip:${contactOf(ok)}`,
      via: `SIP/2.0/UDP ${PBX}:${pbx.port};branch=z9hG4bK${rand()};rport`,
      from,
      to,
      callId,
      cseq: 1,
    }),
    NET2,
    port,
  );
  await rtpCrosses('pbx', answer, NET1);
  await rtpCrosses('carrier', offer, NET2);
  pbx.send(
    request({
      method: 'BYE',
      uri: `sip:${contactOf(ok)}`,
      via: `SIP/2.0/UDP ${PBX}:${pbx.port};branch=z9hG4bK${rand()};rport`,
      from,
      to,
      callId,
      cseq: 2,
    }),
    NET2,
    port,
  );
  const bye = await carrier.next(isRequest('BYE', inv.msg.callId), 'BYE at the carrier');
  assert.equal(`${bye.address}:${bye.port}`, `${NET1}:${port}`);
  assert.equal(topVia(bye), `UDP ${NET1}:${port}`);
  carrier.send(response(bye.msg, 200, 'OK'), bye.address, bye.port);
  await pbx.next(isResponse(200, 'BYE', callId), "200 for the PBX's BYE");
});
