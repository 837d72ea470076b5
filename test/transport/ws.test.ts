import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket, type ClientOptions } from 'ws';
import { freePort } from '../helpers/ports.js';
import { makeCert, sipRequest, sipResponse, startLayer } from './helpers.js';
import { waitFor } from '../helpers/wait.js';

const certP = makeCert('localhost');

interface WsClient {
  ws: WebSocket;
  got: string[];
  closeCode: number | null;
}

function wsClient(
  t: { after(fn: () => unknown): void },
  url: string,
  protocols: string[],
  opts: ClientOptions = {},
): Promise<WsClient> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, opts);
    const c: WsClient = { ws, got: [], closeCode: null };
    ws.on('message', (d) => c.got.push(d.toString()));
    ws.on('close', (code) => {
      c.closeCode = code;
    });
    ws.once('open', () => resolve(c));
    ws.once('error', reject);
    t.after(() => ws.terminate());
  });
}

test('ws: a client offering "sip" exchanges messages; CRLF keep-alive answered', async (t) => {
  const port = await freePort();
  const { tl, inbox } = await startLayer(t, { listen: [{ proto: 'ws', host: '127.0.0.1', port }] });
  const c = await wsClient(t, `ws://127.0.0.1:${port}/`, ['sip']);
  assert.equal(c.ws.protocol, 'sip');
  c.ws.send(sipRequest('w1').toString());
  c.ws.send(sipRequest('w2', 'x'), { binary: true });
  const m = await inbox.next(2);
  assert.match(inbox.messages[0]!.data.toString(), /Call-ID: w1/);
  assert.match(m.data.toString(), /Call-ID: w2/);
  assert.equal(m.flow.proto, 'ws');
  assert.equal(tl.send(m.flow, sipResponse('w2')), true);
  await waitFor(() => c.got.length === 1, { timeoutMs: 3000, what: 'c.got.length === 1' });
  assert.match(c.got[0]!, /^SIP\/2\.0 200 OK/);
  c.ws.send('\r\n\r\n');
  await waitFor(() => c.got.length === 2, { timeoutMs: 3000, what: 'c.got.length === 2' });
  assert.equal(c.got[1], '\r\n');
  assert.equal(inbox.messages.length, 2);
  // a later request to the client reuses its connection
  const f = await tl.sendTo({ proto: 'ws', host: '127.0.0.1', port: m.flow.remotePort }, sipRequest('w3'));
  assert.equal(f.connectionId, m.flow.connectionId);
  await waitFor(() => c.got.length === 3, { timeoutMs: 3000, what: 'c.got.length === 3' });
});

test('ws: an upgrade not offering "sip" is refused; plain HTTP gets 426', async (t) => {
  const port = await freePort();
  const { tl } = await startLayer(t, { listen: [{ proto: 'ws', host: '127.0.0.1', port }] });
  await assert.rejects(wsClient(t, `ws://127.0.0.1:${port}/`, ['chat']), /Unexpected server response: 400/);
  await assert.rejects(wsClient(t, `ws://127.0.0.1:${port}/`, []), /Unexpected server response: 400/);
  const res = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(res.status, 426);
  await res.text();
  await waitFor(() => tl.connectionCount() === 0, { timeoutMs: 3000, what: 'tl.connectionCount() === 0' });
});

test('ws: a message over maxStreamMessageBytes closes the connection', async (t) => {
  const port = await freePort();
  const { tl, inbox } = await startLayer(t, {
    listen: [{ proto: 'ws', host: '127.0.0.1', port }],
    limits: { maxStreamMessageBytes: 1000 },
  });
  const c = await wsClient(t, `ws://127.0.0.1:${port}/`, ['sip']);
  c.ws.send(sipRequest('big', 'x'.repeat(2000)).toString());
  await waitFor(() => c.closeCode !== null, { timeoutMs: 3000, what: 'c.closeCode !== null' });
  assert.equal(c.closeCode, 1009);
  assert.equal(inbox.messages.length, 0);
  await waitFor(() => tl.connectionCount() === 0, { timeoutMs: 3000, what: 'tl.connectionCount() === 0' });
});

test('wss: TLS WebSocket with the same certificate, and outgoing ws/wss via sendTo', async (t) => {
  const cert = await certP;
  const port = await freePort();
  const wsPort = await freePort();
  const a = await startLayer(t, {
    listen: [
      { proto: 'wss', host: '127.0.0.1', port },
      { proto: 'ws', host: '127.0.0.1', port: wsPort },
    ],
    tls: cert,
  });
  const c = await wsClient(t, `wss://127.0.0.1:${port}/`, ['sip'], { ca: cert.cert });
  c.ws.send(sipRequest('s1').toString());
  const m = await a.inbox.next();
  assert.equal(m.flow.proto, 'wss');
  assert.equal(m.flow.localPort, port);
  a.tl.send(m.flow, sipResponse('s1'));
  await waitFor(() => c.got.length === 1, { timeoutMs: 3000, what: 'c.got.length === 1' });
  assert.equal(a.tl.connectionInfo(m.flow.connectionId!)?.tlsProtocol, 'TLSv1.3');
  await assert.rejects(wsClient(t, `wss://127.0.0.1:${port}/`, ['foo'], { ca: cert.cert }), /400/);

  const b = await startLayer(t, { listen: [], tls: { ...cert, ca: cert.cert } });
  const f1 = await b.tl.sendTo({ proto: 'wss', host: '127.0.0.1', port }, sipRequest('out-wss'));
  const f2 = await b.tl.sendTo({ proto: 'ws', host: '127.0.0.1', port: wsPort }, sipRequest('out-ws'));
  await a.inbox.next(3);
  const texts = a.inbox.messages.map((x) => x.data.toString());
  assert.ok(texts.some((s) => s.includes('Call-ID: out-wss')));
  assert.ok(texts.some((s) => s.includes('Call-ID: out-ws')));
  const back = a.inbox.messages.find((x) => x.data.toString().includes('out-wss'))!;
  a.tl.send(back.flow, sipResponse('out-wss'));
  const r = await b.inbox.next();
  assert.equal(r.flow.connectionId, f1.connectionId);
  assert.equal(b.tl.connectionInfo(f2.connectionId!)?.direction, 'outbound');
  assert.equal(b.tl.connectionCount(), 2);
});

test('ws: IPv6 ::1', async (t) => {
  const port = await freePort('::1');
  const { tl, inbox } = await startLayer(t, { listen: [{ proto: 'ws', host: '::1', port }] });
  const c = await wsClient(t, `ws://[::1]:${port}/`, ['sip']);
  c.ws.send(sipRequest('v6').toString());
  const m = await inbox.next();
  assert.equal(m.flow.remoteHost, '::1');
  tl.send(m.flow, sipResponse('v6'));
  await waitFor(() => c.got.length === 1, { timeoutMs: 3000, what: 'c.got.length === 1' });
});
