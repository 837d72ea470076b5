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
  stop: () => Promise<number | null>;
}

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
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`trunkline did not start in ${timeoutMs} ms:\n${out}`)), timeoutMs);
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
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    dir,
    configFile,
    proc,
    output: () => out,
    stop: async () => {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      const code = await exited;
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}
