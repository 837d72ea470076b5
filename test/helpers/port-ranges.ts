/**
 * Media port ranges for tests, reserved across the test processes that run
 * side by side (scripts/test.sh runs two files at a time). A pool is cut
 * into slots of SLOT ports, and a process takes slots by creating a lock
 * file each (exclusive create, its PID inside) in a directory of the
 * system's temp dir. A lock whose process is gone is taken over; a
 * process's locks go when it exits.
 *
 * Two pools, neither overlapping the default media.ports (10000-40000) nor
 * the ports tests draw (20000-32000):
 * - 40002-49801 (reservePortRange), for a relay that binds some ports of
 *   its range: it lies in Linux's ephemeral range (32768-60999), so a port
 *   of it may be taken at any time by some process's socket bound to port
 *   0, and the relay then binds another;
 * - 61000-65399 (reserveBindableRange), above the ephemeral range, for a
 *   test that needs every port of its range (one that fills a range).
 */
import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SLOT = 200;

interface Pool {
  base: number;
  slots: number;
  dir: string;
}

const SHARED: Pool = { base: 40002, slots: 49, dir: join(tmpdir(), 'trunkline-test-media-ranges') };
const BINDABLE: Pool = { base: 61000, slots: 22, dir: join(tmpdir(), 'trunkline-test-bindable-ranges') };

const mine: string[] = [];
let cleanupInstalled = false;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes slot k's lock: true when this process holds it now. */
function take(pool: Pool, k: number): boolean {
  const file = join(pool.dir, `slot-${k}`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      mine.push(file);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let pid = NaN;
    try {
      pid = Number(readFileSync(file, 'utf8'));
    } catch {
      // removed meanwhile: try again
      continue;
    }
    // A lock being written (empty) or held by a live process stays.
    if (!Number.isInteger(pid) || pid <= 0 || alive(pid)) return false;
    rmSync(file, { force: true });
  }
  return false;
}

function release(): void {
  for (const f of mine.splice(0)) rmSync(f, { force: true });
}

/**
 * An even-aligned range of `size` ports (at most 9,800) in 40002-49801 that
 * no other test process holds, starting at a random free slot; kept until
 * this process exits. Some of its ports may be in use by other sockets
 * (see the top of this file).
 */
export function reservePortRange(size: number): { min: number; max: number } {
  return reserve(SHARED, size);
}

/**
 * As reservePortRange, in 61000-65399 (at most 4,400 ports): no socket bound
 * to port 0 gets one of these, so each port binds unless a test holds it.
 */
export function reserveBindableRange(size: number): { min: number; max: number } {
  return reserve(BINDABLE, size);
}

function reserve(pool: Pool, size: number): { min: number; max: number } {
  const need = Math.ceil(size / SLOT);
  if (need > pool.slots) throw new Error(`a range of ${size} ports is more than ${SLOT * pool.slots}`);
  mkdirSync(pool.dir, { recursive: true });
  if (!cleanupInstalled) {
    cleanupInstalled = true;
    process.once('exit', release);
  }
  const first = Math.floor(Math.random() * (pool.slots - need + 1));
  for (let i = 0; i <= pool.slots - need; i++) {
    const k = (first + i) % (pool.slots - need + 1);
    const got: number[] = [];
    for (let j = k; j < k + need && take(pool, j); j++) got.push(j);
    if (got.length === need) {
      const min = pool.base + k * SLOT;
      return { min, max: min + size - 1 };
    }
    for (const j of got) {
      const file = join(pool.dir, `slot-${j}`);
      mine.splice(mine.indexOf(file), 1);
      rmSync(file, { force: true });
    }
  }
  throw new Error(
    `no free media port range of ${size} in ${pool.base}-${pool.base + SLOT * pool.slots - 1} (locks in ${pool.dir})`,
  );
}
