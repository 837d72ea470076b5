/**
 * A redis-server of a test's own, on a free loopback port, that the test
 * may stop and start again (same port, empty: it keeps nothing on disk, as
 * a Redis restarted without persistence would). Skips (the reason) when
 * redis-server is not installed (scripts/install-deps.sh installs it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { freePort } from './ports.js';

export interface TestRedis {
  port: number;
  url: string;
  /** Stops it (SIGKILL: an outage, not a goodbye); resolves once the process is gone. */
  stop(): Promise<void>;
  /** Starts it again on the same port; resolves once it answers PING. */
  start(): Promise<void>;
  /** One command over a fresh connection (RESP inline), its raw reply. */
  command(line: string): Promise<string>;
}

/** Why redis-server cannot be used here, or false. */
export function redisSkip(): string | false {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? false : 'redis-server not installed (scripts/install-deps.sh installs it)';
}

function inline(port: number, line: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let out = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`redis ${port}: no answer to ${line}`));
    }, timeoutMs);
    sock.on('connect', () => sock.write(`${line}\r\n`));
    sock.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.endsWith('\r\n')) {
        clearTimeout(timer);
        sock.end();
        resolve(out);
      }
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  let proc: ChildProcess | null = null;
  const launch = async (): Promise<void> => {
    proc = spawn(
      'redis-server',
      // --dir: whatever it might write goes to the temp folder, never the checkout.
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        tmpdir(),
        '--loglevel',
        'warning',
      ],
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        if ((await inline(port, 'PING', 300)).startsWith('+PONG')) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start in 5 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    async stop() {
      const p = proc;
      proc = null;
      if (p === null || p.exitCode !== null) return;
      const gone = new Promise<void>((r) => p.once('exit', () => r()));
      p.kill('SIGKILL');
      await gone;
    },
    start: launch,
    command: (line) => inline(port, line),
  };
}
