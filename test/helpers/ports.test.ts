/**
 * test/helpers/ports.ts: ports handed out by parallel test processes never
 * collide (each is claimed on the machine), the claims go when their process
 * exits, and a claim left by a process that is gone is taken over.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLAIMS_DIR, claimPort } from './ports.js';

const HELPER = new URL('./ports.js', import.meta.url).href;

interface Drawer {
  /** The ports the child got, once it has drawn them all (it then holds them until release). */
  ports: Promise<number[]>;
  release(): void;
  exited: Promise<void>;
}

/** A child process that draws `count` ports with freePort() and holds them until released (its stdin closed). */
function drawInChild(count: number): Drawer {
  const script = `import { freePort } from ${JSON.stringify(HELPER)};
const ports = [];
for (let i = 0; i < ${count}; i++) ports.push(await freePort());
process.stdout.write(JSON.stringify(ports) + '\\n');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const ports = new Promise<number[]>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.endsWith('\n')) resolve(JSON.parse(out) as number[]);
    });
    child.on('exit', () => reject(new Error(`child ended before drawing its ports: ${err}`)));
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return { ports, release: () => child.stdin.end(), exited };
}

test('parallel processes get disjoint ports, and their claims go when they exit', async () => {
  const drawers = [drawInChild(400), drawInChild(400), drawInChild(400)];
  try {
    const all = (await Promise.all(drawers.map((d) => d.ports))).flat();
    assert.equal(all.length, 1200);
    assert.equal(new Set(all).size, all.length, 'a port was handed to two live processes');
    const claimed = all.filter((p) => existsSync(join(CLAIMS_DIR, String(p))));
    assert.equal(claimed.length, all.length, 'every port handed out is claimed while its process lives');
    for (const d of drawers) d.release();
    await Promise.all(drawers.map((d) => d.exited));
    const left = all.filter((p) => existsSync(join(CLAIMS_DIR, String(p))));
    assert.deepEqual(left, [], 'claims left after their processes exited');
  } finally {
    for (const d of drawers) d.release();
  }
});

test('a claim of a live process is refused; one of a process that is gone is taken over', () => {
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const deadPid = Number(gone.stdout);
  assert.ok(deadPid > 0);
  // Ports above the helper's range, so no other test process draws them.
  const held = 32500 + (process.pid % 200);
  const stale = held + 200;
  const heldFile = join(CLAIMS_DIR, String(held));
  writeFileSync(heldFile, String(process.ppid));
  writeFileSync(join(CLAIMS_DIR, String(stale)), String(deadPid));
  try {
    assert.equal(claimPort(held), false, 'a live process holds it');
    assert.equal(claimPort(stale), true, 'its process is gone');
    assert.equal(claimPort(stale), false, 'now this process holds it');
  } finally {
    unlinkSync(heldFile);
  }
});
