/**
 * Media port ranges for tests, reserved across the test processes that run
 * side by side (scripts/test.sh runs two files at a time): 40002-49801 is
 * cut into slots of SLOT ports, and a process takes slots by creating a
 * lock file each (exclusive create, its PID inside) in a directory of the
 * system's temp dir. A lock whose process is gone is taken over; a
 * process's locks go when it exits. Ranges never overlap the default
 * media.ports (10000-40000) nor the ports tests draw (20000-32000).
 */
import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BASE = 40002;
const SLOT = 200;
const SLOTS = 49;
const DIR = join(tmpdir(), 'trunkline-test-media-ranges');

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
function take(k: number): boolean {
  const file = join(DIR, `slot-${k}`);
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
 * An even-aligned range of `size` ports (at most SLOT * SLOTS) that no
 * other test process holds, starting at a random free slot; kept until
 * this process exits.
 */
export function reservePortRange(size: number): { min: number; max: number } {
  const need = Math.ceil(size / SLOT);
  if (need > SLOTS) throw new Error(`a range of ${size} ports is more than ${SLOT * SLOTS}`);
  mkdirSync(DIR, { recursive: true });
  if (!cleanupInstalled) {
    cleanupInstalled = true;
    process.once('exit', release);
  }
  const first = Math.floor(Math.random() * (SLOTS - need + 1));
  for (let i = 0; i <= SLOTS - need; i++) {
    const k = (first + i) % (SLOTS - need + 1);
    const got: number[] = [];
    for (let j = k; j < k + need && take(j); j++) got.push(j);
    if (got.length === need) {
      const min = BASE + k * SLOT;
      return { min, max: min + size - 1 };
    }
    for (const j of got) {
      const file = join(DIR, `slot-${j}`);
      mine.splice(mine.indexOf(file), 1);
      rmSync(file, { force: true });
    }
  }
  throw new Error(`no free media port range of ${size} in ${BASE}-${BASE + SLOT * SLOTS - 1} (locks in ${DIR})`);
}
