/**
 * The process's open-file limit (RLIMIT_NOFILE). Every media leg holds one
 * or two UDP sockets and every stream connection one descriptor, so the
 * limit, not the media port range, may be what caps the calls a node
 * holds. Node.js raises the soft limit to the hard one as it starts; the
 * hard limit is the service manager's (LimitNOFILE=) or the shell's.
 *
 *   checkOpenFileLimit(log, ports)   // at start: a warning when the limit is below what the range needs
 *   openFileLimit()?.soft            // for error messages (the last read when no descriptor is left)
 */
import { readFileSync } from 'node:fs';

export interface OpenFileLimit {
  soft: number;
  /** Infinity for "unlimited". */
  hard: number;
}

interface LimitLog {
  warn(obj: object, msg: string): void;
}

function limitValue(s: string): number {
  return s === 'unlimited' ? Infinity : Number(s);
}

/** The last limit read: reading needs a descriptor too, and there may be none left when it is asked for. */
let lastRead: OpenFileLimit | null = null;

/**
 * The limit as /proc/self/limits has it; when it cannot be read (no
 * descriptor left), the last one read; null where there is no such file.
 */
export function openFileLimit(): OpenFileLimit | null {
  let text: string;
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return lastRead;
  }
  const line = text.split('\n').find((l) => l.startsWith('Max open files'));
  const m = line === undefined ? null : /^Max open files\s+(\S+)\s+(\S+)/.exec(line);
  if (m === null) return null;
  const soft = limitValue(m[1]!);
  const hard = limitValue(m[2]!);
  if (Number.isNaN(soft) || Number.isNaN(hard)) return null;
  lastRead = { soft, hard };
  return lastRead;
}

/** Descriptors a node needs besides media: listeners, store, connections, the API. */
const BASE_DESCRIPTORS = 1000;

/**
 * Warns at start when the open-file limit is below what the media port
 * range can use (one socket per port, plus BASE_DESCRIPTORS), naming the
 * calls it allows (4 ports a call); returns the limit.
 */
export function checkOpenFileLimit(log: LimitLog, ports: { min: number; max: number }): OpenFileLimit | null {
  const limit = openFileLimit();
  if (limit === null) return null;
  const wanted = ports.max - ports.min + 1 + BASE_DESCRIPTORS;
  if (limit.soft < wanted) {
    log.warn(
      {
        limit: limit.soft,
        wanted,
        calls: Math.max(0, Math.floor((limit.soft - BASE_DESCRIPTORS) / 4)),
      },
      'open-file limit below what media.ports can use: about `calls` anchored calls at most; raise the hard limit (LimitNOFILE= in the service unit, or ulimit -Hn)',
    );
  }
  return limit;
}
