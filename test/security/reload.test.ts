/**
 * SIGHUP re-reads the `security:` key: a step switched off in the file
 * stops acting in the running server, without a restart, and bans stay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { freePort } from '../helpers/ports.js';
import { startTrunkline } from '../helpers/server.js';
import { UdpPeer, cli } from './helpers.js';
import { elapsedUntil } from '../helpers/wait.js';

test('SIGHUP applies a changed security config; bans carry over', async () => {
  const port = await freePort();
  const server = await startTrunkline(`listen: [udp:127.0.0.1:${port}]\n`);
  const p = await new UdpPeer('127.0.0.16').open();
  const banned = await new UdpPeer('127.0.0.17').open();
  try {
    assert.equal(await p.ask(port, { ua: 'friendly-scanner' }, 600), null);
    let r = await cli(server.configFile, ['ban', 'add', '127.0.0.17']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await elapsedUntil(async () => (await banned.ask(port, {}, 200)) === null, { timeoutMs: 3000 })) >= 0);
    appendFileSync(server.configFile, 'security: {scanners: {enabled: false}}\n');
    server.proc.kill('SIGHUP');
    const took = await elapsedUntil(async () => (await p.ask(port, { ua: 'friendly-scanner' }, 300))?.status === 200, {
      timeoutMs: 5000,
    });
    assert.ok(took >= 0, 'the scanner step is off after SIGHUP');
    assert.equal(await banned.ask(port, {}, 500), null, 'the ban stays');
    r = await cli(server.configFile, ['ban', 'list', '--json']);
    assert.equal((JSON.parse(r.stdout) as Array<{ ip: string }>)[0]?.ip, '127.0.0.17');
  } finally {
    p.close();
    banned.close();
    await server.stop();
  }
});
