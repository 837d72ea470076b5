import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { freePort } from '../helpers/ports.js';
import { sipRequest, sipResponse, startLayer } from './helpers.js';
import { sleep, waitFor } from '../helpers/wait.js';

function udpClient(
  t: { after(fn: () => unknown): void },
  host: string,
): Promise<{ sock: Socket; port: number; got: Array<{ data: string; port: number }> }> {
  const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const got: Array<{ data: string; port: number }> = [];
  sock.on('message', (m, r) => got.push({ data: m.toString(), port: r.port }));
  t.after(() => new Promise<void>((r) => sock.close(() => r())));
  return new Promise((resolve) => sock.bind(0, host, () => resolve({ sock, port: sock.address().port, got })));
}

test('udp: receive a datagram, reply along its flow from the listening socket', async (t) => {
  const port = await freePort();
  const { tl, inbox } = await startLayer(t, { listen: [{ proto: 'udp', host: '127.0.0.1', port }] });
  assert.deepEqual(tl.boundListeners(), [{ proto: 'udp', host: '127.0.0.1', port, boundPort: port }]);
  const c = await udpClient(t, '127.0.0.1');
  c.sock.send(sipRequest('u1'), port, '127.0.0.1');
  const m = await inbox.next();
  assert.equal(m.data.toString(), sipRequest('u1').toString());
  assert.deepEqual(m.flow, {
    proto: 'udp',
    localHost: '127.0.0.1',
    localPort: port,
    remoteHost: '127.0.0.1',
    remotePort: c.port,
    connectionId: null,
  });
  assert.equal(tl.send(m.flow, sipResponse('u1')), true);
  await waitFor(() => c.got.length === 1, { timeoutMs: 3000, what: 'c.got.length === 1' });
  assert.equal(c.got[0]!.port, port, 'reply comes from the listening port');
  assert.match(c.got[0]!.data, /^SIP\/2\.0 200 OK/);
  assert.equal(tl.send({ ...m.flow, localPort: port + 1 }, sipResponse('u1')), false, 'no socket for that local port');
});

test('udp: keep-alives (CRLF, whitespace, STUN binding) are dropped silently', async (t) => {
  const port = await freePort();
  const { inbox } = await startLayer(t, { listen: [{ proto: 'udp', host: '127.0.0.1', port }] });
  const c = await udpClient(t, '127.0.0.1');
  const stun = Buffer.alloc(20);
  stun.writeUInt16BE(0x0001, 0);
  stun.writeUInt32BE(0x2112a442, 4);
  for (const d of [Buffer.from('\r\n'), Buffer.from('\r\n\r\n'), Buffer.from(' \t\r\n'), Buffer.alloc(0), stun])
    c.sock.send(d, port, '127.0.0.1');
  c.sock.send(sipRequest('after'), port, '127.0.0.1');
  const m = await inbox.next();
  assert.match(m.data.toString(), /Call-ID: after/);
  await sleep(30);
  assert.equal(inbox.messages.length, 1);
});

test('udp: sendTo goes out of the first udp listener of the same family', async (t) => {
  const port = await freePort();
  const { tl } = await startLayer(t, { listen: [{ proto: 'udp', host: '127.0.0.1', port }] });
  const c = await udpClient(t, '127.0.0.1');
  const flow = await tl.sendTo({ proto: 'udp', host: '127.0.0.1', port: c.port }, sipRequest('out'));
  assert.deepEqual(flow, {
    proto: 'udp',
    localHost: '127.0.0.1',
    localPort: port,
    remoteHost: '127.0.0.1',
    remotePort: c.port,
    connectionId: null,
  });
  await waitFor(() => c.got.length === 1, { timeoutMs: 3000, what: 'c.got.length === 1' });
  assert.equal(c.got[0]!.port, port);
  await assert.rejects(
    tl.sendTo({ proto: 'udp', host: '::1', port: c.port }, sipRequest('x')),
    /no udp listener for IPv6/,
  );
  await assert.rejects(tl.sendTo({ proto: 'udp', host: 'example.com', port: 5060 }, sipRequest('x')), /IP literal/);
});

test('udp: IPv6 ::1 both ways', async (t) => {
  const port = await freePort('::1');
  const { tl, inbox } = await startLayer(t, { listen: [{ proto: 'udp', host: '::1', port }] });
  const c = await udpClient(t, '::1');
  c.sock.send(sipRequest('v6'), port, '::1');
  const m = await inbox.next();
  assert.equal(m.flow.localHost, '::1');
  assert.equal(m.flow.remoteHost, '::1');
  assert.equal(tl.send(m.flow, sipResponse('v6')), true);
  await tl.sendTo({ proto: 'udp', host: '[::1]', port: c.port }, sipRequest('v6b'));
  await waitFor(() => c.got.length === 2, { timeoutMs: 3000, what: 'c.got.length === 2' });
  assert.ok(c.got.every((g) => g.port === port));
});

test('start() fails on a udp port in use, naming the spec', async (t) => {
  const port = await freePort();
  const blocker = createSocket('udp4');
  await new Promise<void>((r) => blocker.bind(port, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => blocker.close(() => r())));
  const { TransportLayer } = await import('../../src/transport/transport-layer.js');
  const tl = new TransportLayer({ listen: [{ proto: 'udp', host: '127.0.0.1', port }] });
  await assert.rejects(tl.start(), { message: `udp:127.0.0.1:${port}: address in use` });
  await tl.stop();
});
