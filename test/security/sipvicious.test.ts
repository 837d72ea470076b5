/**
 * Real attack tools, Debian's sipvicious 0.3.3, pointed at a Trunkline on
 * 127.0.0.1 only. sipvicious 0.3.3 sends from 127.0.0.1 whatever -b says,
 * the server's own address, which is trusted by default (`trustSelf`); so
 * these servers run with `trustSelf: false`, as a server whose attacker
 * shares nothing with it.
 *
 * - svmap: finds nothing to fingerprint (its friendly-scanner is dropped).
 * - svwar: cannot tell an existing extension from a missing one: dropped
 *   with the default config; with the scanner filter off, every REGISTER
 *   gets the same 401 challenge whether the user exists or not.
 * - svcrack against a real subscriber (scanner filter off, so that the
 *   guesses reach the authenticator): banned after 3 failures, never finds
 *   the password (7th in its dictionary), and the ban is in `ban list`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { haveCommand, run } from '../helpers/sipp.js';
import { UdpPeer, cli } from './helpers.js';

const skip = !haveCommand('svmap') && 'sipvicious not installed (scripts/install-deps.sh)';
const PASSWORD = 'secret-pass-9';

async function serverWith(security: string): Promise<{ server: RunningTrunkline; port: number }> {
  const port = await freePort();
  const server = await startTrunkline(
    `listen: [udp:127.0.0.1:${port}]\nregistrar: {algorithms: MD5}\nsecurity: ${security}\n`,
  );
  let r = await cli(server.configFile, ['domain', 'add', '127.0.0.1']);
  assert.equal(r.code, 0, r.stderr);
  r = await cli(server.configFile, ['subscriber', 'add', '1000@127.0.0.1', '--password-stdin'], `${PASSWORD}\n`);
  assert.equal(r.code, 0, r.stderr);
  return { server, port };
}

/** The server still answers a keep-alive from another host. */
async function stillServing(port: number): Promise<void> {
  const p = await new UdpPeer('127.0.0.40').open();
  try {
    assert.equal((await p.ask(port, {}, 2000))?.status, 200);
  } finally {
    p.close();
  }
}

test('svmap finds nothing to fingerprint: its requests are dropped unanswered', { skip, timeout: 60_000 }, async () => {
  const { server, port } = await serverWith('{trustSelf: false}');
  try {
    const r = await run('svmap', ['-p', String(port), '127.0.0.1'], 30_000);
    const out = r.stdout + r.stderr;
    assert.match(out, /found nothing/);
    assert.doesNotMatch(out, /SIP Device|Trunkline/);
    await stillServing(port);
  } finally {
    await server.stop();
  }
});

test('svwar cannot tell existing extensions from missing ones', { skip, timeout: 90_000 }, async () => {
  // Default steps: dropped as a scanner.
  let { server, port } = await serverWith('{trustSelf: false}');
  try {
    const r = await run('svwar', ['--maximumtime=3', '-p', String(port), '-e', '995-1005', '127.0.0.1'], 40_000);
    const out = r.stdout + r.stderr;
    assert.match(out, /found nothing/);
    assert.doesNotMatch(out, /\|\s*1000\s*\|/);
  } finally {
    await server.stop();
  }
  // Scanner filter off: the registrar answers an unknown user and a known one alike.
  ({ server, port } = await serverWith('{trustSelf: false, scanners: {enabled: false}}'));
  try {
    const r = await run(
      'svwar',
      ['--force', '--maximumtime=3', '-p', String(port), '-e', '998-1002', '127.0.0.1'],
      40_000,
    );
    const out = r.stdout + r.stderr;
    const rows = new Map([...out.matchAll(/^\|\s*(\d+)\s*\|\s*([^|]+?)\s*\|/gm)].map((m) => [m[1]!, m[2]!]));
    if (rows.size > 0) assert.equal(rows.get('1000'), rows.get('999'), out);
    else assert.match(out, /found nothing/);
    const p = await new UdpPeer('127.0.0.41').open();
    try {
      const known = await p.ask(port, {
        method: 'REGISTER',
        ruri: 'sip:127.0.0.1',
        from: '<sip:1000@127.0.0.1>',
        to: '<sip:1000@127.0.0.1>',
      });
      const unknown = await p.ask(port, {
        method: 'REGISTER',
        ruri: 'sip:127.0.0.1',
        from: '<sip:999@127.0.0.1>',
        to: '<sip:999@127.0.0.1>',
      });
      assert.equal(known?.status, 401);
      assert.equal(unknown?.status, known?.status);
      assert.equal(unknown?.reason, known?.reason);
      const challenge = (t: string): string =>
        (/\r\nWWW-Authenticate: ([^\r]*)/.exec(t)?.[1] ?? '').replace(/nonce="[^"]*"/, '');
      assert.equal(challenge(unknown!.text), challenge(known!.text));
    } finally {
      p.close();
    }
  } finally {
    await server.stop();
  }
});

test(
  'svcrack against a real subscriber is banned after 3 failures and never finds the password',
  { skip, timeout: 90_000 },
  async () => {
    const { server, port } = await serverWith('{trustSelf: false, scanners: {enabled: false}}');
    try {
      const dict = join(server.dir, 'dictionary.txt');
      writeFileSync(
        dict,
        ['123456', 'password', '1000', 'letmein', 'qwerty', 'admin', PASSWORD, 'zzz'].join('\n') + '\n',
      );
      const r = await run(
        'svcrack',
        ['--maximumtime=3', '-p', String(port), '-u', '1000', '-d', dict, '127.0.0.1'],
        60_000,
      );
      const out = r.stdout + r.stderr;
      assert.doesNotMatch(out, new RegExp(PASSWORD));
      assert.match(out, /found nothing/);
      const bans = server
        .output()
        .split('\n')
        .filter((l) => l.includes('"msg":"ban added"') && l.includes('brute force'));
      assert.equal(bans.length, 1, server.output());
      assert.match(bans[0]!, /3 failed authentications/);
      const listed = await cli(server.configFile, ['ban', 'list', '--json']);
      const row = (JSON.parse(listed.stdout) as Array<{ ip: string; source: string }>).find(
        (b) => b.ip === '127.0.0.1',
      );
      assert.equal(row?.source, 'brute-force');
      await stillServing(port);
    } finally {
      await server.stop();
    }
  },
);
