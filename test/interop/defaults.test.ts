import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { CLI } from '../helpers/server.js';
import { run, sipp, scenario, haveCommand } from '../helpers/sipp.js';
import { freePort } from '../helpers/ports.js';

/** Whether 127.0.0.1:port is free for TCP (the defaults need 5060 and 5061). */
function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

test('with no config, serve runs on the embedded defaults: UDP/TCP 5060, TLS 5061, a localhost certificate in ./data', async (t) => {
  if (!(await tcpFree(5060)) || !(await tcpFree(5061)) || !(await tcpFree(8080))) {
    t.skip('127.0.0.1:5060, 5061 or 8080 (the API) is taken on this machine');
    return;
  }
  const cwd = mkdtempSync(join(tmpdir(), 'trunkline-defaults-'));
  const env = { ...process.env };
  delete env.TRUNKLINE_CONFIG;
  const proc = spawn(process.execPath, [CLI, 'serve'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
  try {
    const deadline = Date.now() + 15000;
    while (!out.includes('"msg":"trunkline started"') && Date.now() < deadline && proc.exitCode === null) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(out, /"listen":\["udp:127\.0\.0\.1:5060","tcp:127\.0\.0\.1:5060","tls:127\.0\.0\.1:5061"\]/);
    assert.ok(existsSync(join(cwd, 'data', 'tls', 'cert.pem')), 'self-signed certificate generated into ./data/tls');
    if (haveCommand('sipp')) {
      const r = await sipp({
        scenario: scenario('options.xml'),
        target: '127.0.0.1:5060',
        localPort: await freePort(),
        calls: 1,
      });
      assert.equal(r.code, 0, `sipp OPTIONS to the defaults failed:\n${r.stdout}`);
    }
  } finally {
    proc.kill('SIGTERM');
    assert.equal(await exited, 0, `serve did not stop cleanly on SIGTERM:\n${out}`);
    rmSync(cwd, { recursive: true, force: true });
  }
});

for (const [yaml, expected] of [
  [
    'listen: [tcp:localhost:5060]\n',
    /^config: listen\[0\]: expected udp\|tcp\|tls\|ws\|wss:IP:PORT, got "tcp:localhost:5060"$/,
  ],
  ['media: {portz: 1}\n', /^config: unknown key "media\.portz"$/],
  ['sip: {timers: {t1: fast}}\n', /^config: sip\.timers\.t1: expected/],
] as const) {
  test(`serve refuses to start on a bad config, naming the key (${yaml.trim()})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trunkline-badcfg-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, yaml);
    const r = await run(process.execPath, [CLI, 'serve', '--config', file], 10000);
    rmSync(dir, { recursive: true, force: true });
    assert.equal(r.code, 2);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
    assert.match(lines[0]!, expected);
  });
}

test('serve names a listener that cannot bind and exits non-zero', async () => {
  const port = await freePort();
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', () => resolve()));
  const dir = mkdtempSync(join(tmpdir(), 'trunkline-busy-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, `data: ${JSON.stringify(join(dir, 'data'))}\nlisten: [tcp:127.0.0.1:${port}]\n`);
  const r = await run(process.execPath, [CLI, 'serve', '--config', file], 10000);
  blocker.close();
  rmSync(dir, { recursive: true, force: true });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, new RegExp(`tcp:127\\.0\\.0\\.1:${port}`));
});
