/**
 * Locks shared by the test processes of this machine (test files run in
 * parallel processes): a lock is a file made with an exclusive create in a
 * directory of the system's temp dir, holding its process's pid. A lock
 * whose process is gone is taken over; a process's locks go when it exits.
 * Used for test ports (ports.ts) and media port ranges (port-ranges.ts).
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const held = new Set<string>();
let cleanupInstalled = false;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock `name` in `dir`: true when this process holds it now. */
export function takeLock(dir: string, name: string): boolean {
  if (!cleanupInstalled) {
    cleanupInstalled = true;
    process.once('exit', () => {
      for (const f of held) rmSync(f, { force: true });
      held.clear();
    });
  }
  mkdirSync(dir, { recursive: true });
  const file = join(dir, name);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      held.add(file);
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

/** Gives back a lock this process took. */
export function dropLock(dir: string, name: string): void {
  const file = join(dir, name);
  if (held.delete(file)) rmSync(file, { force: true });
}
