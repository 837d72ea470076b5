/**
 * Child processes of the benchmark: each in its own process group (so a
 * forking server such as Kamailio is stopped as a whole, and a Ctrl-C in the
 * terminal reaches the benchmark first), stdout/stderr to a log file, and a
 * registry so that every live child is killed on exit, error or signal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

export class Child {
  readonly pid: number;
  exited = false;
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  private readonly proc: ChildProcess;
  private readonly done: Promise<void>;

  constructor(
    readonly name: string,
    readonly command: string,
    readonly args: readonly string[],
    readonly logFile: string,
    cwd: string,
  ) {
    if (aborting) throw new Error(`not starting ${name}: the benchmark is stopping`);
    const fd = openSync(logFile, 'a');
    try {
      this.proc = spawn(command, args, { cwd, stdio: ['ignore', fd, fd], detached: true });
    } finally {
      closeSync(fd);
    }
    if (this.proc.pid === undefined) {
      // spawn reports ENOENT asynchronously; the pid is missing at once.
      throw new Error(`cannot start ${name}: ${command} not found or not executable`);
    }
    this.pid = this.proc.pid;
    this.done = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => {
        this.exited = true;
        this.exitCode = code;
        this.exitSignal = signal;
        LIVE.delete(this);
        resolve();
      });
      this.proc.once('error', () => {
        this.exited = true;
        LIVE.delete(this);
        resolve();
      });
    });
    LIVE.add(this);
  }

  /** Resolves when the process has exited; true if it did within timeoutMs. */
  async wait(timeoutMs = Infinity): Promise<boolean> {
    if (this.exited) return true;
    if (!Number.isFinite(timeoutMs)) {
      await this.done;
      return true;
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const r = await Promise.race([this.done.then(() => true as const), timedOut]);
    clearTimeout(timer);
    return r;
  }

  /** Sends a signal to the whole process group (while the leader lives, its pid is still ours). */
  signal(sig: NodeJS.Signals): void {
    if (this.exited) return;
    try {
      process.kill(-this.pid, sig);
    } catch {
      try {
        process.kill(this.pid, sig);
      } catch {
        /* already gone */
      }
    }
  }

  /** SIGTERM (or `sig`), then SIGKILL to the group after graceMs. */
  async stop(graceMs = 3000, sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.exited) return;
    this.signal(sig);
    if (await this.wait(graceMs)) {
      // The leader is gone; kill stragglers of its group (forked workers) anyway.
      killGroupQuietly(this.pid, 'SIGKILL');
      return;
    }
    this.signal('SIGKILL');
    await this.wait(2000);
  }

  /** The last lines of its log, for error messages. */
  logTail(lines = 15): string {
    try {
      const text = readFileSync(this.logFile, 'utf8').trimEnd();
      return text.split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  describeExit(): string {
    return this.exitSignal !== null ? `killed by ${this.exitSignal}` : `exit code ${this.exitCode}`;
  }
}

function killGroupQuietly(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    /* no such group: fine */
  }
}

const LIVE = new Set<Child>();
/** Set once a signal asked the benchmark to stop: no new child is started. */
let aborting = false;

/** Kills every child still running, at once (for exit paths that cannot wait). */
export function killAllNow(): void {
  for (const c of LIVE) c.signal('SIGKILL');
  LIVE.clear();
}

/** Stops every child still running, politely. */
export async function stopAll(): Promise<void> {
  await Promise.all([...LIVE].map((c) => c.stop(2000)));
}

let installed = false;
/**
 * On SIGINT/SIGTERM: stop all children, then exit 130/143. On process exit
 * (also after an uncaught error): SIGKILL whatever is left.
 */
export function installCleanupHandlers(onSignal?: (sig: NodeJS.Signals) => void): void {
  if (installed) return;
  installed = true;
  let stopping = false;
  const handler = (sig: NodeJS.Signals): void => {
    if (stopping) {
      killAllNow();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    }
    stopping = true;
    aborting = true;
    onSignal?.(sig);
    void stopAll().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  process.on('SIGHUP', handler);
  process.on('exit', killAllNow);
}
