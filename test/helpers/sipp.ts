import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';

/** Scenario files shipped with the tests (copied from the source tree: tsc does not copy XML). */
export function scenario(name: string): string {
  const built = fileURLToPath(new URL(`../interop/scenarios/${name}`, import.meta.url));
  if (existsSync(built)) return built;
  return fileURLToPath(new URL(`../../../test/interop/scenarios/${name}`, import.meta.url));
}

export function haveCommand(cmd: string): boolean {
  const paths = (process.env.PATH ?? '').split(':');
  return paths.some((p) => existsSync(`${p}/${cmd}`));
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, killing it after timeoutMs. */
export function run(cmd: string, args: string[], timeoutMs: number, opts: { cwd?: string; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface SippOptions {
  scenario: string;
  target: string; // host:port
  transport?: 'u1' | 't1';
  localPort: number;
  calls?: number;
  rate?: number;
  timeoutS?: number;
  extra?: string[];
}

/** Runs SIPp in the foreground (-m calls, bounded by -timeout); exit code 0 means every call passed. */
export function sipp(o: SippOptions): Promise<RunResult> {
  const args = [
    '-sf', o.scenario, o.target,
    '-i', '127.0.0.1', '-p', String(o.localPort),
    '-t', o.transport ?? 'u1',
    '-m', String(o.calls ?? 1),
    '-r', String(o.rate ?? 10),
    '-timeout', `${o.timeoutS ?? 10}s`, '-timeout_error',
    '-nostdin', '-nr',
    ...(o.extra ?? []),
  ];
  return run('sipp', args, (o.timeoutS ?? 10) * 1000 + 5000);
}
