import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { sipp, scenario, run, haveCommand } from '../helpers/sipp.js';
import { parseMessage } from '../../src/sip/parser.js';
import { RFC4475_DIR } from '../helpers/rfc4475.js';

/**
 * Trunkline as its own process on every transport, driven by real peers:
 * SIPp over UDP and TCP, sipsak over TLS, a WebSocket client offering `sip`.
 * With no routes configured the server answers OPTIONS to itself with 200, a
 * request for a local user 404, and malformed ones 400 naming the fault.
 */
let server: RunningTrunkline;
let port: number;
let tlsPort: number;
let wsPort: number;

before(async () => {
  port = await freePort();
  tlsPort = await freePort();
  wsPort = await freePort();
  server = await startTrunkline(
    `listen: [udp:127.0.0.1:${port}, tcp:127.0.0.1:${port}, tls:127.0.0.1:${tlsPort}, ws:127.0.0.1:${wsPort}, "udp:[::1]:${port}"]\n` +
      // sipsak 0.9.8 (GnuTLS) cannot read after a TLS 1.3 session ticket; tls.maxVersion exists for such peers.
      `tls: {maxVersion: "1.2"}\n`,
  );
});

after(async () => {
  const code = await server.stop();
  assert.equal(code, 0, 'SIGTERM stops cleanly with exit 0');
});

const haveSipp = haveCommand('sipp');
const haveSipsak = haveCommand('sipsak');

for (const transport of ['u1', 't1'] as const) {
  test(
    `sipp OPTIONS over ${transport === 'u1' ? 'UDP' : 'TCP'} gets 200 with Allow`,
    { skip: !haveSipp && 'sipp not installed (scripts/install-deps.sh)' },
    async () => {
      const r = await sipp({
        scenario: scenario('options.xml'),
        target: `127.0.0.1:${port}`,
        transport,
        localPort: await freePort(),
        calls: 5,
      });
      assert.equal(r.code, 0, `sipp failed:\n${r.stdout}\n${r.stderr}`);
    },
  );

  test(
    `sipp MESSAGE for an unknown local user over ${transport === 'u1' ? 'UDP' : 'TCP'} gets 404 (no route matched)`,
    { skip: !haveSipp && 'sipp not installed' },
    async () => {
      const r = await sipp({
        scenario: scenario('message-unrouted.xml'),
        target: `127.0.0.1:${port}`,
        transport,
        localPort: await freePort(),
        calls: 2,
      });
      assert.equal(r.code, 0, `sipp failed:\n${r.stdout}\n${r.stderr}`);
    },
  );

  test(
    `sipp malformed request over ${transport === 'u1' ? 'UDP' : 'TCP'} gets 400 naming the fault`,
    { skip: !haveSipp && 'sipp not installed' },
    async () => {
      const r = await sipp({
        scenario: scenario('malformed.xml'),
        target: `127.0.0.1:${port}`,
        transport,
        localPort: await freePort(),
        calls: 2,
      });
      assert.equal(r.code, 0, `sipp failed:\n${r.stdout}\n${r.stderr}`);
    },
  );
}

test(
  'sipsak OPTIONS over TLS, verifying the generated localhost certificate, gets 200',
  { skip: !haveSipsak && 'sipsak not installed' },
  async () => {
    const cert = `${server.dir}/data/tls/cert.pem`;
    // The URI names localhost (what the certificate is for); -p sends it to our port.
    // (sipsak checks the certificate against "host:port" when the URI has a port.)
    const r = await run(
      'sipsak',
      ['-s', 'sip:localhost', '-p', `127.0.0.1:${tlsPort}`, '--transport=tls', `--tls-ca-cert=${cert}`, '-vv'],
      15000,
    );
    assert.equal(r.code, 0, `sipsak failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /SIP\/2\.0 200 OK/);
  },
);

test('the generated certificate is for localhost', () => {
  const pem = readFileSync(`${server.dir}/data/tls/cert.pem`, 'utf8');
  assert.match(pem, /BEGIN CERTIFICATE/);
});

test('WebSocket client offering sip gets 200 to OPTIONS (RFC 7118)', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${wsPort}`, 'sip');
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  assert.equal(ws.protocol, 'sip');
  const reply = new Promise<Buffer>((resolve) => ws.once('message', (d: Buffer) => resolve(Buffer.from(d))));
  ws.send(
    'OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKws1\r\nMax-Forwards: 70\r\n' +
      'To: <sip:127.0.0.1>\r\nFrom: <sip:ws@example.invalid>;tag=w1\r\nCall-ID: ws-options-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n',
  );
  const r = parseMessage(await reply);
  assert.ok(r.ok);
  assert.equal(r.message.status, 200);
  assert.equal(r.message.topVia.params.get('received'), '127.0.0.1');
  ws.close();
});

test('WebSocket client not offering sip is refused', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${wsPort}`);
  const outcome = await new Promise<string>((resolve) => {
    ws.once('open', () => resolve('open'));
    ws.once('error', () => resolve('refused'));
    ws.once('unexpected-response', () => resolve('refused'));
  });
  assert.equal(outcome, 'refused');
  ws.terminate();
});

/** Sends one datagram and waits for one answer (or none within waitMs). */
async function udpExchange(host: string, text: string | Buffer, waitMs = 1500): Promise<Buffer | null> {
  const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((resolve) => sock.bind(0, host, () => resolve()));
  const answer = new Promise<Buffer | null>((resolve) => {
    const timer = setTimeout(() => resolve(null), waitMs);
    sock.once('message', (m) => {
      clearTimeout(timer);
      resolve(m);
    });
  });
  sock.send(typeof text === 'string' ? Buffer.from(text) : text, port, host);
  const r = await answer;
  sock.close();
  return r;
}

test('UDP over IPv6 ::1: OPTIONS gets 200 with received and rport (RFC 3581)', async () => {
  const res = await udpExchange(
    '::1',
    `OPTIONS sip:[::1]:${port} SIP/2.0\r\nVia: SIP/2.0/UDP [::1]:9;branch=z9hG4bK6a;rport\r\nMax-Forwards: 70\r\nTo: <sip:[::1]>\r\nFrom: <sip:t@[::1]>;tag=6\r\nCall-ID: v6-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
  );
  assert.ok(res !== null, 'no answer over IPv6');
  const r = parseMessage(res);
  assert.ok(r.ok);
  assert.equal(r.message.status, 200);
  assert.equal(r.message.topVia.params.get('received'), '::1');
  assert.ok(Number(r.message.topVia.params.get('rport')) > 0);
});

test('a stray ACK for a domain that does not resolve is dropped and the server keeps serving', async () => {
  const ack = `ACK sip:x@nowhere.invalid SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKstray1;rport\r\nMax-Forwards: 70\r\nTo: <sip:x@nowhere.invalid>;tag=1\r\nFrom: <sip:t@127.0.0.1>;tag=2\r\nCall-ID: stray-ack-1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n`;
  assert.equal(await udpExchange('127.0.0.1', ack, 1500), null, 'an ACK is never answered');
  const res = await udpExchange(
    '127.0.0.1',
    `OPTIONS sip:127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKafter;rport\r\nMax-Forwards: 70\r\nTo: <sip:127.0.0.1>\r\nFrom: <sip:t@127.0.0.1>;tag=6\r\nCall-ID: after-stray\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
  );
  assert.ok(res !== null, 'the server stopped answering after the stray ACK');
});

test('every invalid RFC 4475 request over UDP gets 400 (or 505), responses are dropped, and the server keeps serving', async () => {
  const dir = RFC4475_DIR;
  const requests = [
    'badinv01',
    'clerr',
    'ncl',
    'scalar02',
    'quotbal',
    'ltgtruri',
    'lwsruri',
    'lwsstart',
    'trws',
    'escruri',
    'baddate',
    'regbadct',
    'badaspec',
    'baddn',
    'badvers',
    'mismatch01',
    'mismatch02',
    'insuf',
    'multi01',
    'mcl01',
  ];
  for (const name of requests) {
    const res = await udpExchange('127.0.0.1', readFileSync(new URL(`${name}.dat`, dir)));
    assert.ok(res !== null, `${name}: no answer`);
    const r = parseMessage(res);
    assert.ok(r.ok, `${name}: answer does not parse`);
    const expected = name === 'badvers' ? 505 : 400;
    assert.equal(r.message.status, expected, `${name}: got ${r.message.status} ${r.message.reason}`);
    assert.ok(r.message.reason.length > 3);
  }
  for (const name of ['scalarlg', 'bigcode']) {
    const res = await udpExchange('127.0.0.1', readFileSync(new URL(`${name}.dat`, dir)), 500);
    assert.equal(res, null, `${name}: a broken response must be dropped, not answered`);
  }
  const ok = await udpExchange(
    '127.0.0.1',
    `OPTIONS sip:127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKalive\r\nTo: <sip:127.0.0.1>\r\nFrom: <sip:t@h>;tag=1\r\nCall-ID: alive\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
  );
  assert.ok(ok !== null && parseMessage(ok).ok);
});

test('a TCP stream with an oversize body gets 413 and is closed; pipelined messages are each answered', async () => {
  const sock = connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
  let data = '';
  sock.on('data', (d) => (data += d.toString('latin1')));
  const options = (n: number): string =>
    `OPTIONS sip:127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKp${n}\r\nTo: <sip:127.0.0.1>\r\nFrom: <sip:t@h>;tag=1\r\nCall-ID: pipe-${n}\r\nCSeq: ${n} OPTIONS\r\nContent-Length: 0\r\n\r\n`;
  sock.write(options(1) + options(2) + '\r\n\r\n' + options(3));
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  await new Promise((r) => setTimeout(r, 500));
  assert.equal((data.match(/SIP\/2\.0 200 OK/g) ?? []).length, 3, data);
  sock.write(
    `MESSAGE sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKbig\r\nTo: <sip:a@127.0.0.1>\r\nFrom: <sip:t@h>;tag=1\r\nCall-ID: big\r\nCSeq: 1 MESSAGE\r\nContent-Length: 10000000\r\n\r\n`,
  );
  await Promise.race([closed, new Promise((r) => setTimeout(r, 3000))]);
  assert.match(data, /SIP\/2\.0 413 /);
  assert.equal(sock.destroyed || sock.readableEnded, true);
  sock.destroy();
});
