/**
 * `<data>/trunkline.pid`: written by a running server at start, removed at
 * stop, read by `trunkline reload` to find whom to send SIGHUP. A file left
 * by a server that died is recognised (no such process, or a process that
 * is not a Trunkline server) and never signalled.
 */
import { readFileSync, unlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const PID_FILE = 'trunkline.pid';

export function pidFilePath(dataDir: string): string {
  return join(dataDir, PID_FILE);
}

/** Writes this process's pid; returns a function that removes the file if it is still ours. */
export function writePidFile(dataDir: string, pid = process.pid): () => void {
  const file = pidFilePath(dataDir);
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${pid}\n`, { mode: 0o644 });
  return () => {
    try {
      if (readFileSync(file, 'utf8').trim() === String(pid)) unlinkSync(file);
    } catch {
      // already gone
    }
  };
}

export class NoServerError extends Error {
  override readonly name = 'NoServerError';
}

/**
 * The pid of the server running on this data directory. NoServerError
 * (one line, naming the file) when there is no pid file, it holds no pid,
 * or that process is gone or is not a Trunkline server.
 */
export function runningServerPid(dataDir: string): number {
  const file = pidFilePath(dataDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new NoServerError(`no server running: ${file} not found (is trunkline serve running with this config?)`);
  }
  const pid = Number(text.trim());
  if (!Number.isSafeInteger(pid) || pid <= 1) throw new NoServerError(`no server running: ${file} holds no pid`);
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM')
      throw new NoServerError(`no server running: process ${pid} of ${file} is gone`);
  }
  // Linux: make sure a recycled pid is not some other program.
  let cmdline: string | undefined;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    cmdline = undefined; // no /proc: trust the file
  }
  if (cmdline !== undefined && !cmdline.split('\0').includes('serve')) {
    throw new NoServerError(`no server running: process ${pid} of ${file} is not trunkline serve`);
  }
  return pid;
}
