/**
 * HEP3 encoding chunk by chunk (IPv4 and IPv6, correlation id, the 64 KiB
 * cap), the capture over UDP and TCP to local listeners, switched on and
 * off, the Call-ID scan and the resolver used for correlation. The end-to-end check with
 * an independent decoder (sngrep) is in server.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer, type Socket } from 'node:net';
import { encodeHep, ipv6Bytes, type HepPacket } from '../../src/capture/hep.js';
import { HepCapture } from '../../src/capture/capture.js';
import { callIdOf, fromTagOf } from '../../src/capture/raw-headers.js';
import type { Flow } from '../../src/transport/types.js';
import { freePort } from '../helpers/ports.js';

/** Chunks of one packet by type (generic vendor), checking the framing on the way. */
function chunks(buf: Buffer): Map<number, Buffer> {
  assert.equal(buf.toString('latin1', 0, 4), 'HEP3');
  assert.equal(buf.readUInt16BE(4), buf.length, 'total length');
  const out = new Map<number, Buffer>();
  let o = 6;
  while (o < buf.length) {
    assert.equal(buf.readUInt16BE(o), 0, 'generic vendor');
    const type = buf.readUInt16BE(o + 2);
    const len = buf.readUInt16BE(o + 4);
    assert.ok(len >= 6 && o + len <= buf.length, `chunk ${type} length ${len}`);
    out.set(type, buf.subarray(o + 6, o + len));
    o += len;
  }
  assert.equal(o, buf.length);
  return out;
}

const SIP = Buffer.from(
  'OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nCall-ID: abc-123@host\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n',
);

/** A UDP collector on a free loopback port: the datagrams it got. */
async function udpCollector(): Promise<{ port: number; got: Buffer[]; close(): void }> {
  const port = await freePort();
  // Room for a whole test's bursts: on a busy machine this process may drain them late.
  const sock = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  await new Promise<void>((r) => sock.bind(port, '127.0.0.1', () => r()));
  return { port, got, close: () => sock.close() };
}

/** The whole HEP packets at the start of a TCP stream (a cut one at the end is left out). */
function splitStream(stream: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let o = 0; o + 6 <= stream.length;) {
    const len = stream.readUInt16BE(o + 4);
    if (len < 6 || o + len > stream.length) break;
    out.push(stream.subarray(o, o + len));
    o += len;
  }
  return out;
}

test('HEP3 over IPv4: every chunk in place, big-endian', () => {
  const p: HepPacket = {
    family: 4,
    ipProto: 17,
    srcIp: '127.0.0.2',
    dstIp: '127.0.0.1',
    srcPort: 5070,
    dstPort: 5060,
    timeUs: 1_700_000_000_123_456,
    captureId: 2001,
    payload: SIP,
  };
  const c = chunks(encodeHep(p));
  assert.equal(c.get(1)![0], 2);
  assert.equal(c.get(2)![0], 17);
  assert.deepEqual([...c.get(3)!], [127, 0, 0, 2]);
  assert.deepEqual([...c.get(4)!], [127, 0, 0, 1]);
  assert.equal(c.get(7)!.readUInt16BE(0), 5070);
  assert.equal(c.get(8)!.readUInt16BE(0), 5060);
  assert.equal(c.get(9)!.readUInt32BE(0), 1_700_000_000);
  assert.equal(c.get(10)!.readUInt32BE(0), 123_456);
  assert.equal(c.get(11)![0], 1, 'SIP');
  assert.equal(c.get(12)!.readUInt32BE(0), 2001);
  assert.deepEqual(c.get(15), SIP);
  assert.equal(c.has(17), false, 'no correlation id unless known');
});

test('HEP3 over IPv6 with TCP, a correlation id and an auth key; a payload over 64 KiB is cut to fit', () => {
  const c = chunks(
    encodeHep({
      family: 6,
      ipProto: 6,
      srcIp: '::1',
      dstIp: '2001:db8::7',
      srcPort: 1,
      dstPort: 2,
      timeUs: 0,
      captureId: 7,
      payload: SIP,
      correlationId: 'call-42',
      authKey: 'k',
    }),
  );
  assert.equal(c.get(1)![0], 10);
  assert.equal(c.get(2)![0], 6);
  assert.equal(c.get(5)!.toString('hex'), '00000000000000000000000000000001');
  assert.equal(c.get(6)!.toString('hex'), '20010db8000000000000000000000007');
  assert.equal(c.get(17)!.toString(), 'call-42');
  assert.equal(c.get(14)!.toString(), 'k');
  const big = encodeHep({
    family: 4,
    ipProto: 17,
    srcIp: '127.0.0.1',
    dstIp: '127.0.0.1',
    srcPort: 1,
    dstPort: 2,
    timeUs: 0,
    captureId: 1,
    payload: Buffer.alloc(70_000, 0x41),
  });
  assert.equal(big.length, 0xffff);
  assert.ok(chunks(big).get(15)!.length < 70_000);
  assert.equal(ipv6Bytes('::ffff:10.1.2.3').toString('hex'), '00000000000000000000ffff0a010203');
  assert.equal(ipv6Bytes('fe80::1%lo').toString('hex'), 'fe800000000000000000000000000001');
});

test('Call-ID found in its spellings and compact form, only in the header section', () => {
  assert.equal(callIdOf(SIP), 'abc-123@host');
  assert.equal(callIdOf(Buffer.from('BYE sip:a SIP/2.0\r\ni:  x1 \r\n\r\n')), 'x1');
  assert.equal(callIdOf(Buffer.from('BYE sip:a SIP/2.0\r\ncall-id: low\r\n\r\n')), 'low');
  assert.equal(callIdOf(Buffer.from('BYE sip:a SIP/2.0\r\nTo: b\r\n\r\nCall-ID: in-body\r\n')), null);
  assert.equal(callIdOf(Buffer.from('BYE sip:a SIP/2.0\r\ncall-id: head\r\n\r\nCall-ID: in-body\r\n')), 'head');
  assert.equal(
    callIdOf(Buffer.from('BYE sip:a SIP/2.0\r\nCSeq: 1 BYE\r\nCall-Info: <x>\r\nCALL-id :\tmixed@h \r\n\r\n')),
    'mixed@h',
  );
  assert.equal(callIdOf(Buffer.from('SIP/2.0 200 OK\r\nContact: <sip:c>\r\nI : compact\r\n\r\n')), 'compact');
  assert.equal(callIdOf(Buffer.from('BYE sip:a SIP/2.0\r\nCall-ID: no-crlf-at-end')), 'no-crlf-at-end');
  assert.equal(callIdOf(Buffer.from('BYE sip:a SIP/2.0\r\nInfo: x\r\nCallID: not-it\r\n\r\n')), null);
  assert.equal(
    fromTagOf(
      Buffer.from('INVITE sip:a SIP/2.0\r\nFrom: "A" <sip:a@b;tag=uri>;tag=abc\r\nTo: <sip:b@c>;tag=no\r\n\r\n'),
    ),
    'abc',
  );
  assert.equal(fromTagOf(Buffer.from('INVITE sip:a SIP/2.0\r\nf: <sip:a@b>;x=1; tag = t2\r\n\r\n')), 't2');
  assert.equal(fromTagOf(Buffer.from('INVITE sip:a SIP/2.0\r\nFrom: <sip:a@b>\r\n\r\n')), null);
});

const flow: Flow = {
  proto: 'udp',
  localHost: '127.0.0.1',
  localPort: 5060,
  remoteHost: '127.0.0.3',
  remotePort: 5080,
  connectionId: null,
};
const quiet = { info() {}, warn() {} };

/** Packets received on `got` until there are `n` (2 s at most). */
async function waitCount(got: unknown[], n: number): Promise<void> {
  for (let i = 0; i < 100 && got.length < n; i++) await new Promise((r) => setTimeout(r, 20));
}

test('capture over UDP: in and out with the addresses the right way round, the own Call-ID as correlation id unless mapped; off sends nothing', async () => {
  const { port, got, close } = await udpCollector();
  const cap = new HepCapture(quiet);
  try {
    cap.configure({ hep: { proto: 'udp', host: '127.0.0.1', port }, id: 99 });
    cap.tap('in', SIP, flow);
    cap.correlate('abc-123@host', 'a-leg-call-id');
    cap.tap('out', SIP, flow);
    cap.tap('out', Buffer.from('\r\n\r\n'), flow); // a keep-alive is not captured
    cap.tap('out', Buffer.from('OPTIONS sip:a SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n'), flow); // no Call-ID: no correlation id
    await waitCount(got, 3);
    assert.equal(got.length, 3);
    const [a, b, c] = got.map(chunks);
    assert.deepEqual(
      [[...a!.get(3)!], a!.get(7)!.readUInt16BE(0), [...a!.get(4)!], a!.get(8)!.readUInt16BE(0)],
      [[127, 0, 0, 3], 5080, [127, 0, 0, 1], 5060],
    );
    assert.deepEqual([[...b!.get(3)!], b!.get(7)!.readUInt16BE(0)], [[127, 0, 0, 1], 5060]);
    assert.equal(a!.get(17)!.toString(), 'abc-123@host');
    assert.equal(b!.get(17)!.toString(), 'a-leg-call-id');
    assert.equal(c!.has(17), false);
    assert.equal(b!.get(12)!.readUInt32BE(0), 99);
    cap.uncorrelate('abc-123@host');
    cap.tap('out', SIP, flow);
    await waitCount(got, 4);
    assert.equal(chunks(got[3]!).get(17)!.toString(), 'abc-123@host');
    cap.configure({ id: 99 });
    assert.equal(cap.enabled, false);
    cap.tap('in', SIP, flow);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(got.length, 4);
    assert.equal(cap.stats.sent, 4);
  } finally {
    cap.stop();
    close();
  }
});

test('capture: the first INVITE of a leg we originate asks the resolver (Call-ID, From tag) once; its later messages carry the answer', async () => {
  const { port, got, close } = await udpCollector();
  const cap = new HepCapture(quiet);
  const asked: string[] = [];
  cap.setLegResolver((callId, tag) => {
    asked.push(`${callId} ${tag}`);
    return callId === 'b-leg' && tag === 'ours' ? 'a-leg' : null;
  });
  const msg = (first: string, callId: string, tag: string) =>
    Buffer.from(`${first}\r\nFrom: <sip:x@y>;tag=${tag}\r\nCall-ID: ${callId}\r\nCSeq: 1 INVITE\r\n\r\n`);
  try {
    cap.configure({ hep: { proto: 'udp', host: '127.0.0.1', port }, id: 1 });
    cap.tap('out', msg('INVITE sip:b@pbx SIP/2.0', 'b-leg', 'ours'), flow);
    cap.tap('in', msg('SIP/2.0 180 Ringing', 'b-leg', 'ours'), flow);
    cap.tap('in', msg('INVITE sip:b@us SIP/2.0', 'a-leg', 'theirs'), flow); // inbound: never asked
    cap.tap('out', msg('INVITE sip:c@elsewhere SIP/2.0', 'proxied', 'theirs'), flow); // asked, not ours
    await waitCount(got, 4);
    assert.deepEqual(
      got.map((p) => chunks(p).get(17)!.toString()),
      ['a-leg', 'a-leg', 'a-leg', 'proxied'],
    );
    assert.deepEqual(asked, ['b-leg ours', 'proxied theirs']);
  } finally {
    cap.stop();
    close();
  }
});

test('capture over TCP: packets queued while connecting, then back to back on one connection', async () => {
  const port = await freePort();
  let data = Buffer.alloc(0);
  const conns: Socket[] = [];
  const srv = createServer((s) => {
    conns.push(s);
    s.on('data', (d) => (data = Buffer.concat([data, d])));
  });
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', () => r()));
  const cap = new HepCapture(quiet);
  try {
    cap.configure({ hep: { proto: 'tcp', host: '127.0.0.1', port }, id: 5 });
    for (let i = 0; i < 3; i++) cap.tap('in', SIP, { ...flow, proto: 'tls', connectionId: 1 });
    for (let i = 0; i < 100 && data.length < 3 * 100; i++) await new Promise((r) => setTimeout(r, 20));
    const packets = splitStream(data);
    assert.equal(packets.length, 3);
    for (const p of packets) assert.equal(chunks(p).get(2)![0], 6, 'TLS is carried over TCP');
    assert.equal(conns.length, 1);
  } finally {
    cap.stop();
    for (const c of conns) c.destroy();
    srv.close();
  }
});

for (const proto of ['udp', 'tcp'] as const) {
  test(`capture over ${proto.toUpperCase()}: 3000 messages in bursts over many batches (buffers reused between them) all arrive whole, each with its own Call-ID`, async () => {
    const udp = await udpCollector();
    const port = proto === 'udp' ? udp.port : await freePort();
    let stream = Buffer.alloc(0);
    const conns: Socket[] = [];
    const srv = createServer((s) => {
      conns.push(s);
      s.on('data', (d) => (stream = Buffer.concat([stream, d])));
    });
    if (proto === 'tcp') await new Promise<void>((r) => srv.listen(port, '127.0.0.1', () => r()));
    const cap = new HepCapture(quiet);
    const N = 3000;
    const message = (i: number) =>
      Buffer.from(
        `OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nCall-ID: burst-${i}\r\nCSeq: ${i} OPTIONS\r\nX-Pad: ${'x'.repeat(i % 700)}\r\nContent-Length: 0\r\n\r\n`,
      );
    try {
      cap.configure({ hep: { proto, host: '127.0.0.1', port }, id: 7 });
      await new Promise((r) => setTimeout(r, 50)); // connected
      for (let i = 0; i < N;) {
        for (const end = Math.min(N, i + 50); i < end; i++) cap.tap('out', message(i), flow);
        await new Promise((r) => setTimeout(r, 2)); // the batch leaves at the end of the turn; the next burst may reuse its buffer
      }
      const packets = (): Buffer[] => (proto === 'udp' ? udp.got : splitStream(stream));
      for (let t = 0; t < 250 && packets().length < N; t++) await new Promise((r) => setTimeout(r, 20));
      const all = packets();
      assert.equal(all.length, N);
      all.forEach((p, i) => {
        const c = chunks(p);
        assert.deepEqual(c.get(15), message(i), `payload ${i}`);
        assert.equal(c.get(17)!.toString(), `burst-${i}`);
      });
      assert.equal(cap.stats.sent, N);
    } finally {
      cap.stop();
      for (const c of conns) c.destroy();
      srv.close();
      udp.close();
    }
  });
}
