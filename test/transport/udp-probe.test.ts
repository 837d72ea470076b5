/**
 * UdpProbes on loopback, real sockets: a UDP port with nothing listening
 * answers ICMP port unreachable, which the probe's connected socket hears
 * as ECONNREFUSED; a listening port gets one CRLF keep-alive and no
 * refusal; a cancelled probe reports nothing; at most `max` are open.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { UdpProbes, udpProbesFor } from '../../src/transport/udp-probe.js';
import { TransportError } from '../../src/transport/transport-error.js';
import { freePort } from '../helpers/ports.js';

const HOST = '127.0.0.13';

function refusedWithin(
  probes: UdpProbes,
  port: number,
  ms: number,
  errors: TransportError[] = [],
): Promise<number | null> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms);
    probes.probe(HOST, port, (err) => {
      errors.push(err);
      clearTimeout(timer);
      resolve(Date.now() - t0);
    });
  });
}

test('a closed UDP port is reported refused at once (ICMP port unreachable), from the listener address, as a TransportError', async () => {
  const probes = new UdpProbes({ localAddress: () => '127.0.0.1', waitMs: 2000 });
  const port = await freePort(HOST);
  const errors: TransportError[] = [];
  const took = await refusedWithin(probes, port, 1500, errors);
  assert.ok(took !== null, 'no refusal for a closed port');
  assert.ok(took < 500, `the refusal took ${took} ms`);
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof TransportError);
  assert.equal(errors[0].code, 'connect-refused');
  assert.deepEqual(errors[0].target, { proto: 'udp', host: HOST, port });
  assert.equal(errors[0].message, `udp:${HOST}:${port}: connection refused`);
  assert.deepEqual(probes.stats, { sent: 1, refused: 1, skipped: 0, fresh: 0 });
});

test('a listening port gets one CRLF keep-alive and is not reported; a cancelled probe reports nothing', async () => {
  const port = await freePort(HOST);
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(port, HOST, r));
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  try {
    const probes = new UdpProbes({ localAddress: () => undefined, waitMs: 300 });
    assert.equal(await refusedWithin(probes, port, 800), null);
    assert.deepEqual(
      got.map((b) => b.toString('latin1')),
      ['\r\n\r\n'],
    );
  } finally {
    sock.close();
  }
  const probes = new UdpProbes({ localAddress: () => '127.0.0.1' });
  let reported = false;
  const cancel = probes.probe(HOST, await freePort(HOST), () => (reported = true));
  cancel();
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(reported, false);
});

test('at most `max` probes open at once; a host name is not probed; the env helper sends from the UDP listener', async () => {
  const probes = new UdpProbes({ localAddress: () => undefined, waitMs: 300, max: 1 });
  const port = await freePort(HOST);
  const first = refusedWithin(probes, port, 1000);
  let second = false;
  probes.probe(HOST, port, () => (second = true));
  probes.probe('gw.example.com', port, () => (second = true));
  assert.ok((await first) !== null);
  assert.equal(second, false);
  assert.equal(probes.stats.skipped, 2);

  const seen: string[] = [];
  const listen = dgram.createSocket('udp4');
  const lport = await freePort(HOST);
  await new Promise<void>((r) => listen.bind(lport, HOST, r));
  listen.on('message', (_m, rinfo) => seen.push(rinfo.address));
  try {
    const probe = udpProbesFor(
      [
        { proto: 'tcp', host: '127.0.0.1' },
        { proto: 'udp', host: '127.0.0.14' },
      ],
      { waitMs: 200 },
    );
    probe({ host: HOST, port: lport }, () => assert.fail('refused'));
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(seen, ['127.0.0.14']);
  } finally {
    listen.close();
  }
});

test('a target that answered is not probed again within freshMs, then probed again; a cancel without an answer remembers nothing', async () => {
  const port = await freePort(HOST);
  let now = 1_000_000;
  const probes = new UdpProbes({ localAddress: () => '127.0.0.1', waitMs: 2000, freshMs: 2000, now: () => now });
  // Nothing listens: the first probe hears the refusal.
  assert.ok((await refusedWithin(probes, port, 1500)) !== null);
  // A probe cancelled without an answer (the call ended first) changes nothing: the next one is sent.
  probes.probe(HOST, port, () => undefined)();
  assert.ok((await refusedWithin(probes, port, 1500)) !== null);
  // The target answered a request: within freshMs no socket is opened (the refusal is not heard).
  probes.probe(HOST, port, () => undefined)(true);
  now += 1999;
  assert.equal(await refusedWithin(probes, port, 500), null);
  assert.equal(probes.stats.fresh, 1);
  now += 2;
  assert.ok((await refusedWithin(probes, port, 1500)) !== null, 'probed again after freshMs');
  assert.equal(probes.stats.refused, 3);
});
