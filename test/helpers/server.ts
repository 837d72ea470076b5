import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface RunningTrunkline {
  dir: string;
  configFile: string;
  proc: ChildProcess;
  output: () => string;
  /**
   * SIGTERM and the exit code. A process still running graceMs (default
   * 30 s, more than any stop of the server takes) after the SIGTERM is
   * killed (SIGKILL; the code is then null), so a stop that hangs fails the
   * test rather than holding its file.
   */
  stop: (graceMs?: number) => Promise<number | null>;
}

/** The default of RunningTrunkline.stop's graceMs. */
export const STOP_GRACE_MS = 30_000;

/**
 * Starts `trunkline serve --config` as its own process on loopback, with a
 * data directory of its own, and waits until it says it is listening.
 */
export async function startTrunkline(configYaml: string, timeoutMs = 15000): Promise<RunningTrunkline> {
  const dir = mkdtempSync(join(tmpdir(), 'trunkline-test-'));
  const configFile = join(dir, 'trunkline.yaml');
  // The HTTP API on a port of its own (never the default 8080), unless the test sets `api:`.
  const api = /^api:/m.test(configYaml) ? '' : 'api: {listen: "127.0.0.1:0"}\n';
  writeFileSync(configFile, `data: ${JSON.stringify(join(dir, 'data'))}\n${api}${configYaml}`);
  const proc = spawn(process.execPath, [CLI, 'serve', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Listened for at once: a process that exits before stop() is asked still resolves it.
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve, reject) => {
    // Not started in time: killed, since the caller gets no handle on it to stop it.
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`trunkline did not start in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const check = (): void => {
      if (out.includes('"msg":"trunkline started"')) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', check);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`trunkline exited with ${code} at start:\n${out}`));
    });
  });
  return {
    dir,
    configFile,
    proc,
    output: () => out,
    stop: async (graceMs = STOP_GRACE_MS) => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => {
        out += `\n(test helper: still running ${graceMs} ms after SIGTERM: SIGKILL)\n`;
        proc.kill('SIGKILL');
      }, graceMs);
      const code = await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}
