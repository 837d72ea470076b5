/**
 * "A ban never locks out a configured carrier": a source in
 * `security.trusted` floods without being banned, and a ban of it by hand
 * is listed but not enforced (logged as such), while an untrusted source
 * flooding beside it is banned. Every step switched off: nothing is dropped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/ports.js';
import { startTrunkline } from '../helpers/server.js';
import { UdpPeer, cli, request, sleep } from './helpers.js';
import { elapsedUntil } from '../helpers/wait.js';

test('a trusted source is never banned (flood or by hand); an untrusted one beside it is', async () => {
  const port = await freePort();
  const server = await startTrunkline(`listen: [udp:127.0.0.1:${port}]\nsecurity: {trusted: [127.0.0.13/32]}\n`);
  const carrier = await new UdpPeer('127.0.0.13').open();
  const stranger = await new UdpPeer('127.0.0.14').open();
  try {
    for (let i = 0; i < 40; i++) {
      carrier.send(request('127.0.0.13', carrier.port, 'UDP'), port);
      stranger.send(request('127.0.0.14', stranger.port, 'UDP'), port);
    }
    await sleep(700);
    assert.equal(carrier.drain().length, 40);
    assert.ok(stranger.drain().length <= 20);
    assert.equal((await carrier.ask(port))?.status, 200);
    assert.equal(await stranger.ask(port, {}, 500), null);

    const r = await cli(server.configFile, ['ban', 'add', '127.0.0.13']);
    assert.equal(r.code, 0, r.stderr);
    const logged = await elapsedUntil(() => server.output().includes('"msg":"ban of a trusted address not enforced"'), {
      timeoutMs: 3000,
    });
    assert.ok(logged >= 0, 'the server saw the ban');
    assert.equal((await carrier.ask(port))?.status, 200);
    const listed = await cli(server.configFile, ['ban', 'list', '--json']);
    assert.deepEqual((JSON.parse(listed.stdout) as Array<{ ip: string }>).map((b) => b.ip).sort(), [
      '127.0.0.13',
      '127.0.0.14',
    ]);
  } finally {
    carrier.close();
    stranger.close();
    await server.stop();
  }
});

test('security: {enabled: false} switches every step off', async () => {
  const port = await freePort();
  const server = await startTrunkline(`listen: [udp:127.0.0.1:${port}]\nsecurity: {enabled: false}\n`);
  const p = await new UdpPeer('127.0.0.15').open();
  try {
    for (let i = 0; i < 40; i++) p.send(request('127.0.0.15', p.port, 'UDP', { ua: 'friendly-scanner' }), port);
    await sleep(700);
    assert.equal(p.drain().length, 40);
  } finally {
    p.close();
    await server.stop();
  }
});
