/**
 * Media port ranges for tests, reserved across the test processes that run
 * side by side (scripts/test.sh runs two files at a time). A pool is cut
 * into slots of SLOT ports, and a process takes slots with a lock each
 * (machine-locks.ts), kept until it exits.
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
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropLock, takeLock } from './machine-locks.js';

const SLOT = 200;

interface Pool {
  base: number;
  slots: number;
  dir: string;
}

const SHARED: Pool = { base: 40002, slots: 49, dir: join(tmpdir(), 'trunkline-test-media-ranges') };
const BINDABLE: Pool = { base: 61000, slots: 22, dir: join(tmpdir(), 'trunkline-test-bindable-ranges') };

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
  const first = Math.floor(Math.random() * (pool.slots - need + 1));
  for (let i = 0; i <= pool.slots - need; i++) {
    const k = (first + i) % (pool.slots - need + 1);
    const got: number[] = [];
    for (let j = k; j < k + need && takeLock(pool.dir, `slot-${j}`); j++) got.push(j);
    if (got.length === need) {
      const min = pool.base + k * SLOT;
      return { min, max: min + size - 1 };
    }
    for (const j of got) dropLock(pool.dir, `slot-${j}`);
  }
  throw new Error(
    `no free media port range of ${size} in ${pool.base}-${pool.base + SLOT * pool.slots - 1} (locks in ${pool.dir})`,
  );
}
