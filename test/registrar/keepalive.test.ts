import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { parseMessage } from '../../src/sip/parser.js';
import { openStore, type Store } from '../../src/store/index.js';
import { TransportLayer } from '../../src/transport/transport-layer.js';
import { Interfaces } from '../../src/dialog/interfaces.js';
import { KeepAlive, parseReceived } from '../../src/registrar/keepalive.js';
import { registerBindings, type BindingSet } from '../../src/registrar/bindings.js';

let dir: string;
let store: Store;
let transport: TransportLayer;
let interfaces: Interfaces;
let udpPort: number;
let tcpPort: number;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keepalive-test-'));
  store = await openStore({ kind: 'sqlite', file: join(dir, 'trunkline.db') }, { env: {} });
  transport = new TransportLayer({
    listen: [
      { proto: 'udp', host: '127.0.0.1', port: 0 },
      { proto: 'tcp', host: '127.0.0.1', port: 0 },
    ],
  });
  await transport.start();
  const bound = transport.boundListeners();
  udpPort = bound.find((l) => l.proto === 'udp')!.boundPort;
  tcpPort = bound.find((l) => l.proto === 'tcp')!.boundPort;
  interfaces = new Interfaces(bound, null);
});

after(async () => {
  await transport.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function keepAlive(maxPerTick?: number): KeepAlive {
  const ka = new KeepAlive({
    location: store.location,
    transport,
    interfaceFor: (proto, host) => interfaces.forProto(proto, host),
    intervalMs: 200,
    ...(maxPerTick !== undefined ? { maxPerTick } : {}),
  });
  // What the proxy's stray-response hook does in the server.
  transport.onMessage((m) => {
    const r = parseMessage(m.data);
    if (r.ok && !r.message.isRequest) ka.consume(r.message);
  });
  return ka;
}

function binding(contact: string, received: string | null, proto: BindingSet['proto'], port: number): BindingSet {
  return {
    contact,
    received,
    expiresAt: Date.now() + 60_000,
    proto,
    localHost: '127.0.0.1',
    localPort: proto === 'udp' ? udpPort : tcpPort,
    remoteHost: '127.0.0.1',
    remotePort: port,
  };
}

function reply200(req: string): string {
  const lines = req.split('\r\n');
  const keep = lines.filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l));
  return ['SIP/2.0 200 OK', ...keep, 'Content-Length: 0', '', ''].join('\r\n');
}

test("parseReceived reads the registrar's received URIs", () => {
  assert.deepEqual(parseReceived('sip:192.0.2.1:5062;transport=udp'), { proto: 'udp', host: '192.0.2.1', port: 5062 });
  assert.deepEqual(parseReceived('sip:[2001:db8::1]:5070;transport=tcp'), {
    proto: 'tcp',
    host: '2001:db8::1',
    port: 5070,
  });
  assert.equal(parseReceived('sip:example.org:5060'), null);
  assert.equal(parseReceived('sip:192.0.2.1'), null);
  assert.equal(parseReceived('garbage'), null);
});

test('a NATed UDP contact gets a well-formed OPTIONS at its received address, answers 200, and the answer is counted; a contact without received gets nothing', async () => {
  const phone = dgram.createSocket('udp4');
  phone.bind(0, '127.0.0.1');
  await once(phone, 'listening');
  const natPort = phone.address().port;
  // A second phone, not behind NAT (no received): must get no ping.
  const plain = dgram.createSocket('udp4');
  plain.bind(0, '127.0.0.1');
  await once(plain, 'listening');
  const plainPort = plain.address().port;
  let plainGot = 0;
  plain.on('message', () => plainGot++);

  const contact = 'sip:alice@10.0.0.5:5060';
  await registerBindings(store.location, {
    aor: 'alice@example.test',
    callId: 'reg-1',
    cseq: 1,
    set: [binding(contact, `sip:127.0.0.1:${natPort};transport=udp`, 'udp', natPort)],
  });
  await registerBindings(store.location, {
    aor: 'bob@example.test',
    callId: 'reg-2',
    cseq: 1,
    set: [binding(`sip:bob@127.0.0.1:${plainPort}`, null, 'udp', plainPort)],
  });

  const ka = keepAlive();
  const got: string[] = [];
  phone.on('message', (data, rinfo) => {
    got.push(data.toString('utf8'));
    phone.send(reply200(data.toString('utf8')), rinfo.port, rinfo.address);
  });
  ka.start();
  try {
    const deadline = Date.now() + 3000;
    while ((ka.stats.optionsAnswered < 2 || got.length < 2) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
  } finally {
    ka.stop();
  }
  assert.ok(got.length >= 2, `pings received: ${got.length}`);
  const r = parseMessage(Buffer.from(got[0]!, 'utf8'));
  assert.ok(r.ok, 'the OPTIONS parses');
  const m = r.message;
  assert.equal(m.method, 'OPTIONS');
  assert.equal(m.requestUri, contact);
  assert.equal(m.maxForwards, 70);
  assert.equal(m.cseq.method, 'OPTIONS');
  assert.match(m.callId, /^ka-[0-9a-f]+$/);
  assert.ok(m.fromTag !== null);
  assert.match(m.get('From')!, new RegExp(`^<sip:keepalive@127\\.0\\.0\\.1:${udpPort}>;tag=`));
  assert.equal(m.get('To'), `<${contact}>`);
  assert.match(m.topVia.branch ?? '', /^z9hG4bK/);
  assert.equal(m.topVia.host, '127.0.0.1');
  assert.equal(m.topVia.port, udpPort);
  // Each round: a new Call-ID.
  const r2 = parseMessage(Buffer.from(got[1]!, 'utf8'));
  assert.ok(r2.ok);
  assert.notEqual(r2.message.callId, m.callId);
  assert.ok(ka.stats.optionsAnswered >= 2, `answered: ${ka.stats.optionsAnswered}`);
  assert.equal(ka.stats.optionsAnswered, Math.min(ka.stats.optionsAnswered, ka.stats.optionsSent));
  assert.equal(plainGot, 0, 'the binding without received got no ping');
  phone.close();
  plain.close();
  await store.location.removeAll('alice@example.test');
  await store.location.removeAll('bob@example.test');
});

test('a NATed TCP contact gets CRLFCRLF on its open connection; none is opened when it is gone', async () => {
  const sock = net.connect(tcpPort, '127.0.0.1');
  await once(sock, 'connect');
  const natPort = sock.localPort!;
  // Let the transport layer register the accepted connection.
  sock.write('\r\n\r\n');
  await new Promise((r) => setTimeout(r, 100));
  const conn = transport.connections().find((c) => c.remotePort === natPort);
  assert.ok(conn, 'the accepted connection is in the table');
  await registerBindings(store.location, {
    aor: 'carol@example.test',
    callId: 'reg-3',
    cseq: 1,
    set: [
      {
        ...binding('sip:carol@10.0.0.7:5060;transport=tcp', `sip:127.0.0.1:${natPort};transport=tcp`, 'tcp', natPort),
        connectionId: String(conn.id),
      },
    ],
  });
  let bytes = '';
  sock.on('data', (d: Buffer) => (bytes += d.toString('latin1')));
  const ka = keepAlive();
  await ka.tick();
  const deadline = Date.now() + 2000;
  while (bytes.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(bytes.slice(0, 4), '\r\n\r\n');
  assert.equal(ka.stats.crlfSent, 1);
  sock.destroy();
  await new Promise((r) => setTimeout(r, 100));
  const before = transport.connectionCount();
  await ka.tick();
  assert.equal(ka.stats.crlfSent, 1, 'no ping without a connection');
  assert.equal(ka.stats.skipped, 1);
  assert.equal(transport.connectionCount(), before, 'no connection was opened');
  await store.location.removeAll('carol@example.test');
});

test('work per tick is bounded and the walk resumes where it stopped', async () => {
  const phone = dgram.createSocket('udp4');
  phone.bind(0, '127.0.0.1');
  await once(phone, 'listening');
  const port = phone.address().port;
  let got = 0;
  phone.on('message', () => got++);
  for (let i = 0; i < 5; i++) {
    await registerBindings(store.location, {
      aor: `u${i}@example.test`,
      callId: `reg-b${i}`,
      cseq: 1,
      set: [binding(`sip:u${i}@10.0.0.9:5060`, `sip:127.0.0.1:${port};transport=udp`, 'udp', port)],
    });
  }
  const ka = keepAlive(2);
  await ka.tick();
  assert.equal(ka.stats.optionsSent, 2);
  await ka.tick();
  assert.equal(ka.stats.optionsSent, 4);
  await ka.tick();
  assert.equal(ka.stats.optionsSent, 5, 'the last page has one');
  await ka.tick();
  assert.equal(ka.stats.optionsSent, 7, 'then from the start again');
  const deadline = Date.now() + 2000;
  while (got < 7 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(got, 7);
  phone.close();
  for (let i = 0; i < 5; i++) await store.location.removeAll(`u${i}@example.test`);
});

test('a stored contact that cannot be written into an OPTIONS is skipped, and the round goes on', async () => {
  const phone = dgram.createSocket('udp4');
  phone.bind(0, '127.0.0.1');
  await once(phone, 'listening');
  const port = phone.address().port;
  const got: string[] = [];
  phone.on('message', (d) => got.push(d.toString('utf8')));
  const received = `sip:127.0.0.1:${port};transport=udp`;
  try {
    // A space in the Request-URI would make a request line no peer can read.
    await registerBindings(store.location, {
      aor: 'bad@example.test',
      callId: 'reg-bad',
      cseq: 1,
      set: [binding('sip:bad@10.0.0.8 x', received, 'udp', port)],
    });
    await registerBindings(store.location, {
      aor: 'good@example.test',
      callId: 'reg-good',
      cseq: 1,
      set: [binding('sip:good@10.0.0.9:5060', received, 'udp', port)],
    });
    const ka = keepAlive();
    await ka.tick();
    assert.equal(ka.stats.skipped, 1);
    assert.equal(ka.stats.optionsSent, 1);
    const deadline = Date.now() + 2000;
    while (got.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(got.length, 1);
    assert.ok(got[0]!.startsWith('OPTIONS sip:good@10.0.0.9:5060 SIP/2.0\r\n'));
  } finally {
    phone.close();
    await store.location.removeAll('bad@example.test');
    await store.location.removeAll('good@example.test');
  }
});
