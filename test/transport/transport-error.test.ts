/**
 * TransportError from real sends and connects on loopback: each failure of
 * sendTo()/sendToNow() rejects (throws) with the code a caller branches on
 * and the target as asked for (the B2BUA counts a 'connect-refused' carrier
 * gateway as unreachable, src/b2bua/call.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { WebSocketServer } from 'ws';
import { TransportLayer } from '../../src/transport/transport-layer.js';
import { codeOf, TransportError, type TransportErrorCode } from '../../src/transport/transport-error.js';
import type { TransportProto } from '../../src/transport/types.js';
import { freePort } from '../helpers/ports.js';
import { makeCert, sipRequest, startLayer } from './helpers.js';

/** What sendTo(target) failed with; fails the test when it did not fail, or not with a TransportError. */
async function failure(tl: TransportLayer, proto: TransportProto, host: string, port: number): Promise<TransportError> {
  try {
    await tl.sendTo({ proto, host, port }, sipRequest('x'));
  } catch (err) {
    assert.ok(err instanceof TransportError, `not a TransportError: ${String(err)}`);
    return err;
  }
  return assert.fail(`sendTo ${proto}:${host}:${port} did not fail`);
}

function expect(
  err: TransportError,
  code: TransportErrorCode,
  target: { proto: TransportProto; host: string; port: number },
): void {
  assert.equal(err.code, code, err.message);
  assert.deepEqual({ ...err.target }, target);
  assert.equal(err.name, 'TransportError');
  assert.ok(
    err.message.startsWith(
      `${target.proto}:${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}: `,
    ),
    err.message,
  );
}

/** A TCP server that accepts and never says a word (no TLS ServerHello, no HTTP answer). */
async function silentServer(t: { after(fn: () => unknown): void }): Promise<number> {
  const port = await freePort();
  const socks: net.Socket[] = [];
  const srv = net.createServer((s) => socks.push(s.on('error', () => {})));
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
  t.after(() => {
    for (const s of socks) s.destroy();
    srv.close();
  });
  return port;
}

test('a refused TCP, TLS and WS connect: connect-refused, naming the target', async (t) => {
  const { tl } = await startLayer(t, { listen: [], tlsClientVerify: false });
  for (const proto of ['tcp', 'tls', 'ws', 'wss'] as const) {
    const port = await freePort();
    expect(await failure(tl, proto, '127.0.0.1', port), 'connect-refused', { proto, host: '127.0.0.1', port });
  }
});

test('a peer that never completes the TLS handshake or the WebSocket upgrade: timeout', async (t) => {
  const port = await silentServer(t);
  const { tl } = await startLayer(t, { listen: [], tlsClientVerify: false, limits: { connectTimeoutMs: 200 } });
  for (const proto of ['tls', 'ws'] as const) {
    const t0 = Date.now();
    expect(await failure(tl, proto, '127.0.0.1', port), 'timeout', { proto, host: '127.0.0.1', port });
    assert.ok(Date.now() - t0 < 2000, `${proto}: gave up after ${Date.now() - t0} ms`);
  }
});

test('an unverifiable server certificate, a WebSocket server without the "sip" subprotocol: handshake', async (t) => {
  const cert = await makeCert();
  const port = await freePort();
  await startLayer(t, { listen: [{ proto: 'tls', host: '127.0.0.1', port }], tls: cert });
  const { tl } = await startLayer(t, { listen: [] });
  expect(await failure(tl, 'tls', '127.0.0.1', port), 'handshake', { proto: 'tls', host: '127.0.0.1', port });

  const wsPort = await freePort();
  const wss = new WebSocketServer({ host: '127.0.0.1', port: wsPort, handleProtocols: () => false });
  t.after(() => wss.close());
  await new Promise<void>((r) => wss.once('listening', r));
  expect(await failure(tl, 'ws', '127.0.0.1', wsPort), 'handshake', { proto: 'ws', host: '127.0.0.1', port: wsPort });
});

test('the connection cap: limit; no listener of the family: no-listener; bad targets; not running', async (t) => {
  const peer = await freePort();
  const srv = net.createServer((s) => s.on('error', () => {}));
  await new Promise<void>((r) => srv.listen(peer, '127.0.0.1', r));
  t.after(() => srv.close());
  const { tl } = await startLayer(t, {
    listen: [{ proto: 'udp', host: '127.0.0.1', port: 0 }],
    limits: { maxConnections: 1 },
  });
  await tl.sendTo({ proto: 'tcp', host: '127.0.0.1', port: peer }, sipRequest('first'));
  const other = await freePort();
  expect(await failure(tl, 'tcp', '127.0.0.1', other), 'limit', { proto: 'tcp', host: '127.0.0.1', port: other });

  expect(await failure(tl, 'udp', '::1', 5060), 'no-listener', { proto: 'udp', host: '::1', port: 5060 });
  assert.throws(
    () => tl.sendToNow({ proto: 'udp', host: '::1', port: 5060 }, sipRequest('x')),
    (err) => err instanceof TransportError && err.code === 'no-listener',
  );
  expect(await failure(tl, 'udp', 'gw.example.com', 5060), 'bad-target', {
    proto: 'udp',
    host: 'gw.example.com',
    port: 5060,
  });
  expect(await failure(tl, 'tcp', '127.0.0.1', 70000), 'bad-target', { proto: 'tcp', host: '127.0.0.1', port: 70000 });

  const stopped = new TransportLayer({ listen: [] });
  expect(await failure(stopped, 'udp', '127.0.0.1', 5060), 'not-running', {
    proto: 'udp',
    host: '127.0.0.1',
    port: 5060,
  });
  await tl.stop();
  expect(await failure(tl, 'tcp', '127.0.0.1', peer), 'not-running', { proto: 'tcp', host: '127.0.0.1', port: peer });
});

test('TransportError.of keeps a TransportError, wraps anything else with its cause; codeOf maps Node errors', () => {
  const target = { proto: 'tcp', host: '192.0.2.7', port: 5060 } as const;
  const refused = new TransportError('connect-refused', target, 'connection refused');
  assert.equal(TransportError.of(refused, { proto: 'udp', host: '::1', port: 1 }), refused);
  const cause = Object.assign(new Error('connect EHOSTUNREACH 192.0.2.7:5060'), { code: 'EHOSTUNREACH' });
  const wrapped = TransportError.of(cause, target);
  assert.equal(wrapped.code, 'unreachable');
  assert.equal(wrapped.cause, cause);
  assert.equal(wrapped.message, 'tcp:192.0.2.7:5060: connect EHOSTUNREACH 192.0.2.7:5060');
  assert.equal(TransportError.of('weird', target).code, 'failed');
  const cases: Array<[string | undefined, TransportErrorCode]> = [
    ['ECONNREFUSED', 'connect-refused'],
    ['ETIMEDOUT', 'timeout'],
    ['ENETUNREACH', 'unreachable'],
    ['ENOTFOUND', 'unreachable'],
    ['ECONNRESET', 'closed'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'handshake'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'handshake'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'handshake'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'handshake'],
    ['EMFILE', 'failed'],
    [undefined, 'failed'],
  ];
  for (const [code, want] of cases)
    assert.equal(
      codeOf(code === undefined ? new Error('x') : Object.assign(new Error('x'), { code })),
      want,
      String(code),
    );
});
