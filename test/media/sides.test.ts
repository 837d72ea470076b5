import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { BuiltinMediaEngine } from '../../src/media/builtin.js';
import type { LegMediaOptions, MediaAddress } from '../../src/media/engine.js';
import { mediaPortRange, sdpPorts } from './helpers.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The built-in relay with each side of a call on its own network
 * (LegMediaOptions.sides): the caller's side on 127.0.0.0/24, the callee's
 * on 127.0.1.0/24. Each side's SDP shows the relay's address on that side,
 * its sockets are bound there, and a new attempt toward another network
 * before the answer moves the callee's side. Without sides: `address`.
 */
const NET1: MediaAddress = { bind: '127.0.0.10', sdp: '127.0.0.10' };
const NET2: MediaAddress = { bind: '127.0.1.10', sdp: '127.0.1.99' };
const NET3: MediaAddress = { bind: '127.0.2.10', sdp: '127.0.2.10' };

let engine: BuiltinMediaEngine;
const sockets: Socket[] = [];

before(() => {
  engine = new BuiltinMediaEngine({ address: '127.0.0.1', ports: mediaPortRange(200), timeout: 30, holdTimeout: 3600 });
});
after(async () => {
  await engine.close();
  for (const s of sockets) s.close();
});

interface Peer {
  sock: Socket;
  ip: string;
  port: number;
  got: Array<{ address: string; port: number }>;
}

async function peer(ip: string): Promise<Peer> {
  const sock = createSocket('udp4');
  sockets.push(sock);
  const got: Peer['got'] = [];
  sock.on('message', (_m, r) => got.push({ address: r.address, port: r.port }));
  await new Promise<void>((resolve) => sock.bind(0, ip, () => resolve()));
  return { sock, ip, port: sock.address().port, got };
}

function offerSdp(p: Peer): string {
  return [
    'v=0',
    `o=p 1 1 IN IP4 ${p.ip}`,
    's=-',
    `c=IN IP4 ${p.ip}`,
    't=0 0',
    `m=audio ${p.port} RTP/AVP 0`,
    'a=rtpmap:0 PCMU/8000',
    '',
  ].join('\r\n');
}

function rtpPacket(seq: number): Buffer {
  const b = Buffer.alloc(172);
  b[0] = 0x80;
  b.writeUInt16BE(seq, 2);
  return b;
}

const opts = (sides?: LegMediaOptions['sides']): LegMediaOptions => ({
  profile: 'as-offered',
  codecs: [],
  ...(sides !== undefined && { sides }),
});

test("each side's SDP shows the relay on its own network; RTP leaves each side from there", async () => {
  const a = await peer('127.0.0.20');
  const b = await peer('127.0.1.20');
  const sides = { a: NET1, b: NET2 };
  const toB = sdpPorts(await engine.offer('s1', 'a', offerSdp(a), opts(sides)));
  assert.equal(toB.address, '127.0.1.99', "the callee's side, written as advertised");
  const toA = sdpPorts(await engine.answer('s1', 'b', offerSdp(b), opts(sides)));
  assert.equal(toA.address, '127.0.0.10');
  // a sends to the relay's port on its network; b gets it from the relay's socket on its network.
  a.sock.send(rtpPacket(1), toA.port, NET1.bind);
  await waitFor(() => b.got.length === 1, { timeoutMs: 3000, what: 'RTP a -> b', intervalMs: 10 });
  assert.deepEqual(b.got[0], { address: NET2.bind, port: toB.port });
  b.sock.send(rtpPacket(1), toB.port, NET2.bind);
  await waitFor(() => a.got.length === 1, { timeoutMs: 3000, what: 'RTP b -> a', intervalMs: 10 });
  assert.deepEqual(a.got[0], { address: NET1.bind, port: toA.port });
  await engine.delete('s1');
});

test("a new attempt toward another network before the answer moves the callee's side there", async () => {
  const a = await peer('127.0.0.21');
  const first = sdpPorts(await engine.offer('s2', 'a', offerSdp(a), opts({ a: NET1, b: NET2 })));
  assert.equal(first.address, '127.0.1.99');
  const c = await peer('127.0.2.20');
  const second = sdpPorts(await engine.offer('s2', 'a', offerSdp(a), opts({ a: NET1, b: NET3 })));
  assert.equal(second.address, '127.0.2.10');
  const toA = sdpPorts(await engine.answer('s2', 'b', offerSdp(c), opts()));
  assert.equal(toA.address, '127.0.0.10', 'sides kept from the offer');
  a.sock.send(rtpPacket(1), toA.port, NET1.bind);
  await waitFor(() => c.got.length === 1, { timeoutMs: 3000, what: 'RTP a -> c', intervalMs: 10 });
  assert.deepEqual(c.got[0], { address: NET3.bind, port: second.port });
  await engine.delete('s2');
});

test("without sides: the engine's address on both, as before", async () => {
  const a = await peer('127.0.0.1');
  const toB = sdpPorts(await engine.offer('s3', 'a', offerSdp(a), opts()));
  assert.equal(toB.address, '127.0.0.1');
  await engine.delete('s3');
});
