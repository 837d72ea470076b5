/**
 * The open-file limit (src/core/open-files.ts): `trunkline serve` started
 * under a low soft limit runs with the hard one (Node.js raises it) and
 * warns when that is below what the media port range can use, and a media
 * port that cannot be bound for want of descriptors says so
 * (src/media/ports.ts) instead of "no free media port". The descriptor
 * test lowers this test process's own soft limit with prlimit(1) and gives
 * it back after.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:dgram';
import { openFileLimit } from '../../src/core/open-files.js';
import { bindPorts, PortAllocator } from '../../src/media/ports.js';
import { MediaError } from '../../src/media/errors.js';
import { CLI } from '../helpers/server.js';
import { haveCommand } from '../helpers/sipp.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';

const skip =
  (!haveCommand('prlimit') && 'prlimit (util-linux) not installed') ||
  (openFileLimit() === null && 'no /proc/self/limits');

function setOwnSoftLimit(soft: number, hard: number): void {
  execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${soft}:${hard}`], { stdio: 'ignore' });
  // Read now, while a descriptor is free: what the 503 below names.
  openFileLimit();
}

test('media ports: out of descriptors, the 503 names the open-file limit, not the port range', { skip }, async () => {
  const start = openFileLimit()!;
  const alloc = new PortAllocator(41000, 41999);
  const held: Socket[] = [];
  let error: unknown = null;
  const open = readdirSync('/proc/self/fd').length;
  setOwnSoftLimit(open + 8, start.hard);
  try {
    for (let i = 0; i < 20 && error === null; i++) {
      try {
        const b = await bindPorts(alloc, '127.0.0.1', false);
        held.push(b.rtp, b.rtcp!);
      } catch (err) {
        error = err;
      }
    }
  } finally {
    // The descriptors back first: prlimit itself takes a few to start.
    await Promise.all(held.map((s) => new Promise<void>((r) => s.close(() => r()))));
    setOwnSoftLimit(start.soft, start.hard);
  }
  assert.ok(held.length > 0, 'some sockets were made before the limit');
  assert.ok(error instanceof MediaError, `a MediaError, got ${String(error)}`);
  assert.equal(error.sipStatus, 503);
  assert.match(error.warning, new RegExp(`open-file limit \\(${open + 8}\\) is reached \\(EMFILE\\)`));
  // The ports it tried are free again: a socket binds once descriptors are back.
  const again = await bindPorts(alloc, '127.0.0.1', true);
  again.rtp.close();
});

test(
  'trunkline serve under a soft limit of 1024 (hard 4096) runs with 4096, and warns of the calls that allows',
  { skip },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trunkline-nofile-'));
    const config = join(dir, 'trunkline.yaml');
    writeFileSync(
      config,
      [
        `data: ${JSON.stringify(join(dir, 'data'))}`,
        `listen: ["udp:127.0.0.1:${await freePort()}"]`,
        'api: {listen: "127.0.0.1:0"}',
        '',
      ].join('\n'),
    );
    const proc = spawn('prlimit', ['--nofile=1024:4096', '--', process.execPath, CLI, 'serve', '--config', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor(() => out.includes('"msg":"trunkline started"') || proc.exitCode !== null, {
        timeoutMs: 15_000,
        what: 'trunkline started',
        detail: () => out,
      });
      assert.equal(proc.exitCode, null, out);
      const limits = readFileSync(`/proc/${proc.pid}/limits`, 'utf8');
      assert.match(limits, /^Max open files\s+4096\s+4096\s/m);
      // The default media.ports 10000-40000 could use 30,001 sockets: 4096 descriptors hold about 774 calls.
      assert.match(
        out,
        /"level":"warn".*"limit":4096,"wanted":31001,"calls":774,"msg":"open-file limit below what media.ports can use/,
      );
    } finally {
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null ? r(null) : proc.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
