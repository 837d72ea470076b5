import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { freePort } from '../helpers/ports.js';
import { SocketReader, makeCert, sipRequest, sipResponse, startLayer, type TestCert } from './helpers.js';
import { waitFor } from '../helpers/wait.js';

const certs: Promise<[TestCert, TestCert, TestCert]> = Promise.all([
  makeCert('localhost'),
  makeCert('localhost'),
  makeCert('client.test'),
]);

function tlsClient(
  t: { after(fn: () => unknown): void },
  opts: ConnectionOptions,
): Promise<SocketReader & { sock: TLSSocket }> {
  return new Promise((resolve, reject) => {
    const sock = tlsConnect(opts, () => resolve(new SocketReader(sock) as SocketReader & { sock: TLSSocket }));
    sock.once('error', reject);
    t.after(() => sock.destroy());
  });
}

function fp(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

test('tls: messages in and replies out over TLS, TLS >= 1.2, keep-alive', async (t) => {
  const [server] = await certs;
  const port = await freePort();
  const { tl, inbox } = await startLayer(t, { listen: [{ proto: 'tls', host: '127.0.0.1', port }], tls: server });
  const c = await tlsClient(t, { host: '127.0.0.1', port, ca: server.cert });
  assert.equal(c.sock.authorized, true);
  const a = sipRequest('s1', 'body!');
  c.sock.write(a.subarray(0, 50));
  c.sock.write(a.subarray(50));
  const m = await inbox.next();
  assert.equal(m.data.toString(), a.toString());
  assert.equal(m.flow.proto, 'tls');
  assert.equal(tl.send(m.flow, sipResponse('s1')), true);
  await c.waitText((s) => s.includes('200 OK'));
  c.sock.write('\r\n\r\n');
  await c.waitText((s) => s.endsWith('\r\n\r\n\r\n')); // 200 OK ends with CRLFCRLF, pong adds CRLF
  const info = tl.connectionInfo(m.flow.connectionId!);
  assert.equal(info?.proto, 'tls');
  assert.equal(info?.tlsProtocol, 'TLSv1.3');
  assert.equal(info?.tlsFingerprint, undefined, 'no client certificate requested');
  // TLS 1.1 is refused
  await assert.rejects(
    tlsClient(t, { host: '127.0.0.1', port, ca: server.cert, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }),
  );
  // TLS 1.2 with a modern cipher works
  const c12 = await tlsClient(t, { host: '127.0.0.1', port, ca: server.cert, maxVersion: 'TLSv1.2' });
  assert.match(c12.sock.getCipher().name, /ECDHE-(ECDSA|RSA)-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)/);
});

test('tls: verifyClient requires a client certificate and exposes its fingerprint', async (t) => {
  const [server, , clientCert] = await certs;
  const port = await freePort();
  const { tl, inbox } = await startLayer(t, {
    listen: [{ proto: 'tls', host: '127.0.0.1', port }],
    tls: { ...server, ca: clientCert.cert, verifyClient: true },
  });
  const c = await tlsClient(t, {
    host: '127.0.0.1',
    port,
    ca: server.cert,
    cert: clientCert.cert,
    key: clientCert.key,
  });
  c.sock.write(sipRequest('mtls'));
  const m = await inbox.next();
  const info = tl.connectionInfo(m.flow.connectionId!);
  assert.equal(info?.tlsFingerprint, fp(clientCert.cert));
  assert.equal(info?.tlsAuthorized, true);
  // no client certificate: the server refuses (TLS 1.3 reports it after the handshake)
  const bad = await tlsClient(t, { host: '127.0.0.1', port, ca: server.cert }).catch(() => null);
  if (bad) await bad.waitClosed();
  await waitFor(() => tl.connectionCount() === 1, { timeoutMs: 3000, what: 'tl.connectionCount() === 1' });
});

test('tls: sendTo opens a verified TLS connection; unverifiable server refused unless tlsClientVerify is off', async (t) => {
  const [server, other] = await certs;
  const port = await freePort();
  const a = await startLayer(t, { listen: [{ proto: 'tls', host: '127.0.0.1', port }], tls: server });
  // b trusts a's certificate
  const b = await startLayer(t, {
    listen: [{ proto: 'tcp', host: '127.0.0.1', port: 0 }],
    tls: { ...other, ca: server.cert },
  });
  const flow = await b.tl.sendTo({ proto: 'tls', host: '127.0.0.1', port }, sipRequest('out-tls'));
  const m = await a.inbox.next();
  assert.match(m.data.toString(), /Call-ID: out-tls/);
  assert.equal(b.tl.connectionInfo(flow.connectionId!)?.tlsFingerprint, fp(server.cert));
  // a replies along the flow it received, b gets it on its outgoing connection
  a.tl.send(m.flow, sipResponse('out-tls'));
  const r = await b.inbox.next();
  assert.equal(r.flow.connectionId, flow.connectionId);
  // c has no trust anchor for a's self-signed certificate
  const c = await startLayer(t, { listen: [] });
  await assert.rejects(
    c.tl.sendTo({ proto: 'tls', host: '127.0.0.1', port }, sipRequest('x')),
    /^TransportError: tls:127\.0\.0\.1:\d+: .*self[- ]signed/i,
  );
  const d = await startLayer(t, { listen: [], tlsClientVerify: false });
  await d.tl.sendTo({ proto: 'tls', host: '127.0.0.1', port }, sipRequest('unverified'));
  await a.inbox.next(2);
});

test('tls: reloadTls serves the new certificate to new connections, existing ones untouched', async (t) => {
  const [server, other] = await certs;
  const port = await freePort();
  const { tl, inbox } = await startLayer(t, { listen: [{ proto: 'tls', host: '127.0.0.1', port }], tls: server });
  const c1 = await tlsClient(t, { host: '127.0.0.1', port, ca: server.cert });
  assert.equal(c1.sock.getPeerCertificate().fingerprint256, fp(server.cert));
  tl.reloadTls(other);
  const c2 = await tlsClient(t, { host: '127.0.0.1', port, ca: other.cert });
  assert.equal(c2.sock.getPeerCertificate().fingerprint256, fp(other.cert));
  c1.sock.write(sipRequest('old'));
  const m = await inbox.next();
  assert.match(m.data.toString(), /Call-ID: old/);
  tl.send(m.flow, sipResponse('old'));
  await c1.waitText((s) => s.includes('200 OK'));
  assert.throws(() => tl.reloadTls({ cert: 'nope', key: 'nope' }), /cannot load TLS certificate/);
});

test('tls: IPv6 ::1', async (t) => {
  const [server] = await certs;
  const port = await freePort('::1');
  const { tl, inbox } = await startLayer(t, { listen: [{ proto: 'tls', host: '::1', port }], tls: server });
  const c = await tlsClient(t, { host: '::1', port, ca: server.cert });
  c.sock.write(sipRequest('v6'));
  const m = await inbox.next();
  assert.equal(m.flow.remoteHost, '::1');
  tl.send(m.flow, sipResponse('v6'));
  await c.waitText((s) => s.includes('200 OK'));
});
