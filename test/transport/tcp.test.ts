import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { freePort } from '../helpers/ports.js';
import { TransportLayer } from '../../src/transport/transport-layer.js';
import type { FramingErrorEvent } from '../../src/transport/types.js';
import { SocketReader, sipRequest, sipResponse, startLayer } from './helpers.js';
import { sleep, waitFor } from '../helpers/wait.js';

function client(t: { after(fn: () => unknown): void }, port: number, host = '127.0.0.1'): Promise<SocketReader> {
  return new Promise((resolve, reject) => {
    const sock = connect({ port, host }, () => resolve(new SocketReader(sock)));
    sock.once('error', reject);
    t.after(() => sock.destroy());
  });
}

test('tcp: framed messages in, replies on the same connection, keep-alive answered', async (t) => {
  const port = await freePort();
  const { tl, inbox } = await startLayer(t, { listen: [{ proto: 'tcp', host: '127.0.0.1', port }] });
  const c = await client(t, port);
  const a = sipRequest('t1', 'hello');
  const b = sipRequest('t2');
  c.sock.write(Buffer.concat([a, b, a.subarray(0, 10)]));
  await sleep(20);
  c.sock.write(a.subarray(10));
  const m3 = await inbox.next(3);
  assert.deepEqual(
    inbox.messages.map((m) => m.data.toString()),
    [a, b, a].map((x) => x.toString()),
  );
  const { flow } = m3;
  assert.equal(flow.proto, 'tcp');
  assert.equal(flow.remotePort, c.sock.localPort);
  assert.equal(flow.localPort, port);
  assert.equal(typeof flow.connectionId, 'number');
  assert.ok(inbox.messages.every((m) => m.flow.connectionId === flow.connectionId));
  assert.equal(tl.connectionCount(), 1);

  assert.equal(tl.send(flow, sipResponse('t1')), true);
  await c.waitText((s) => s.includes('SIP/2.0 200 OK'));
  // connection gone from flow.connectionId: found again by remote address
  assert.equal(tl.send({ ...flow, connectionId: 999999 }, sipResponse('t2')), true);
  await c.waitText((s) => s.split('SIP/2.0 200 OK').length === 3);

  const before = c.text.length;
  c.sock.write('\r\n\r\n');
  await c.waitText((s) => s.length === before + 2);
  assert.equal(c.text.slice(before), '\r\n');
  assert.equal(inbox.messages.length, 3, 'ping is not a message');
  const info = tl.connectionInfo(flow.connectionId!);
  assert.equal(info?.direction, 'inbound');
  assert.equal(info?.remoteHost, '127.0.0.1');
});

test('tcp: framing error is reported with the header, reply flushed, then connection closed', async (t) => {
  const port = await freePort();
  const { tl, inbox } = await startLayer(t, { listen: [{ proto: 'tcp', host: '127.0.0.1', port }] });
  const errors: FramingErrorEvent[] = [];
  tl.onFramingError((e) => {
    errors.push(e);
    tl.send(e.flow, Buffer.from('SIP/2.0 400 Missing Content-Length\r\nContent-Length: 0\r\n\r\n'));
  });
  const c = await client(t, port);
  c.sock.write(Buffer.concat([sipRequest('ok'), Buffer.from('OPTIONS sip:x SIP/2.0\r\nCall-ID: bad\r\n\r\n')]));
  await c.waitClosed();
  assert.match(c.text, /^SIP\/2\.0 400 Missing Content-Length/);
  assert.equal(inbox.messages.length, 1);
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.status, 400);
  assert.equal(errors[0]!.headerText, 'OPTIONS sip:x SIP/2.0\r\nCall-ID: bad');
  await waitFor(() => tl.connectionCount() === 0, { timeoutMs: 3000, what: 'tl.connectionCount() === 0' });
});

test('tcp: garbage without CRLFCRLF is cut off after maxHeaderBytes (513)', async (t) => {
  const port = await freePort();
  const { tl } = await startLayer(t, {
    listen: [{ proto: 'tcp', host: '127.0.0.1', port }],
    limits: { maxHeaderBytes: 2048 },
  });
  const errors: FramingErrorEvent[] = [];
  tl.onFramingError((e) => errors.push(e));
  const c = await client(t, port);
  const noise = Buffer.alloc(512, 0x41);
  const timer = setInterval(() => {
    if (!c.closed) c.sock.write(noise);
  }, 1);
  t.after(() => clearInterval(timer));
  await c.waitClosed();
  clearInterval(timer);
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.status, 513);
  assert.equal(errors[0]!.headerText, null);
  // The client saw its end close; the server's own close event may still be on its way.
  await waitFor(() => tl.connectionCount() === 0, { timeoutMs: 3000, what: 'tl.connectionCount() === 0' });
});

test('tcp: sendTo reuses a connection the peer opened (remote address and alias)', async (t) => {
  const port = await freePort();
  const { tl, inbox } = await startLayer(t, { listen: [{ proto: 'tcp', host: '127.0.0.1', port }] });
  const c = await client(t, port);
  c.sock.write(sipRequest('reg'));
  const m = await inbox.next();
  const flow = await tl.sendTo({ proto: 'tcp', host: '127.0.0.1', port: c.sock.localPort! }, sipRequest('back'));
  assert.equal(flow.connectionId, m.flow.connectionId);
  await c.waitText((s) => s.includes('Call-ID: back'));
  tl.registerAlias(m.flow.connectionId!, '127.0.0.1', 5099);
  const f2 = await tl.sendTo({ proto: 'tcp', host: '127.0.0.1', port: 5099 }, sipRequest('alias'));
  assert.equal(f2.connectionId, m.flow.connectionId);
  await c.waitText((s) => s.includes('Call-ID: alias'));
  assert.deepEqual(tl.connectionInfo(m.flow.connectionId!)?.aliases, ['127.0.0.1|5099']);
  assert.equal(tl.connectionCount(), 1);
});

test('tcp: sendTo opens an outgoing connection, reuses it, and receives on it', async (t) => {
  const peerPort = await freePort();
  const peerSockets: Socket[] = [];
  let received = '';
  const peer = createServer((s) => {
    peerSockets.push(s);
    s.on('data', (d) => {
      received += d.toString();
    });
  });
  await new Promise<void>((r) => peer.listen(peerPort, '127.0.0.1', () => r()));
  t.after(() => {
    for (const s of peerSockets) s.destroy();
    return new Promise<void>((r) => peer.close(() => r()));
  });
  const port = await freePort();
  const { tl, inbox } = await startLayer(t, { listen: [{ proto: 'tcp', host: '127.0.0.1', port }] });
  const target = { proto: 'tcp' as const, host: '127.0.0.1', port: peerPort };
  const [f1, f2] = await Promise.all([tl.sendTo(target, sipRequest('o1')), tl.sendTo(target, sipRequest('o2'))]);
  const f3 = await tl.sendTo(target, sipRequest('o3'));
  assert.equal(f1.connectionId, f2.connectionId);
  assert.equal(f1.connectionId, f3.connectionId);
  assert.equal(f1.localHost, '127.0.0.1');
  await waitFor(() => received.includes('Call-ID: o3'), { timeoutMs: 3000, what: 'Call-ID: o3 received' });
  assert.equal(peerSockets.length, 1);
  assert.equal(tl.connectionInfo(f1.connectionId!)?.direction, 'outbound');
  peerSockets[0]!.write(sipResponse('o1'));
  const m = await inbox.next();
  assert.equal(m.flow.connectionId, f1.connectionId);
  await assert.rejects(
    tl.sendTo({ proto: 'tcp', host: '127.0.0.1', port: await freePort() }, sipRequest('x')),
    /^TransportError: tcp:127\.0\.0\.1:\d+: connection refused/,
  );
});

test('tcp: per-IP connection cap closes further accepts at once', async (t) => {
  const port = await freePort();
  const { tl } = await startLayer(t, {
    listen: [{ proto: 'tcp', host: '127.0.0.1', port }],
    limits: { maxConnectionsPerIp: 2 },
  });
  const a = await client(t, port);
  const b = await client(t, port);
  await waitFor(() => tl.connectionCount() === 2, { timeoutMs: 3000, what: 'tl.connectionCount() === 2' });
  const c = await client(t, port);
  await c.waitClosed();
  assert.equal(a.closed || b.closed, false);
  assert.equal(tl.connectionCount(), 2);
  a.sock.destroy();
  await waitFor(() => tl.connectionCount() === 1, { timeoutMs: 3000, what: 'tl.connectionCount() === 1' });
  const d = await client(t, port);
  await waitFor(() => tl.connectionCount() === 2, { timeoutMs: 3000, what: 'tl.connectionCount() === 2' });
  assert.equal(d.closed, false);
});

test('tcp: idle connections are closed by the sweep, which runs only while there are connections', async (t) => {
  const port = await freePort();
  const { tl } = await startLayer(t, {
    listen: [{ proto: 'tcp', host: '127.0.0.1', port }],
    limits: { idleTimeoutMs: 150 },
  });
  assert.equal(tl.sweeping, false, 'no connection: no sweep timer');
  const idle = await client(t, port);
  await waitFor(() => tl.sweeping, { timeoutMs: 3000, what: 'the sweep started with the first connection' });
  const busy = await client(t, port);
  const timer = setInterval(() => busy.sock.write('\r\n\r\n'), 30);
  t.after(() => clearInterval(timer));
  await idle.waitClosed(2000);
  assert.equal(busy.closed, false);
  await waitFor(() => tl.connectionCount() === 1, { timeoutMs: 3000, what: 'tl.connectionCount() === 1' });
  clearInterval(timer);
  assert.equal(tl.sweeping, true);
  await busy.waitClosed(2000);
  await waitFor(() => tl.connectionCount() === 0 && !tl.sweeping, {
    timeoutMs: 3000,
    what: 'the sweep stopped with the last connection',
  });
  const again = await client(t, port);
  await waitFor(() => tl.sweeping, { timeoutMs: 3000, what: 'the sweep started again' });
  await again.waitClosed(2000);
});

test('tcp: IPv6 ::1', async (t) => {
  const port = await freePort('::1');
  const { tl, inbox } = await startLayer(t, { listen: [{ proto: 'tcp', host: '::1', port }] });
  const c = await client(t, port, '::1');
  c.sock.write(sipRequest('v6'));
  const m = await inbox.next();
  assert.equal(m.flow.localHost, '::1');
  assert.equal(m.flow.remoteHost, '::1');
  tl.send(m.flow, sipResponse('v6'));
  await c.waitText((s) => s.includes('200 OK'));
  const f = await tl.sendTo({ proto: 'tcp', host: '[::1]', port: c.sock.localPort! }, sipRequest('v6b'));
  assert.equal(f.connectionId, m.flow.connectionId);
});

test('start() fails on a tcp port in use, naming the spec, and releases what it bound', async (t) => {
  const port = await freePort();
  const free = await freePort();
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => blocker.close(() => r())));
  const tl = new TransportLayer({
    listen: [
      { proto: 'udp', host: '127.0.0.1', port: free },
      { proto: 'tcp', host: '127.0.0.1', port },
    ],
  });
  await assert.rejects(tl.start(), { message: `tcp:127.0.0.1:${port}: address in use` });
  // the udp listener bound before the failure was released
  const again = new TransportLayer({ listen: [{ proto: 'udp', host: '127.0.0.1', port: free }] });
  await again.start();
  await again.stop();
  await assert.rejects(
    new TransportLayer({ listen: [{ proto: 'tls', host: '127.0.0.1', port: 0 }] }).start(),
    /^Error: tls:127\.0\.0\.1:0: TLS certificate and key required/,
  );
});
