import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

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
export function run(
  cmd: string,
  args: string[],
  timeoutMs: number,
  opts: { cwd?: string; input?: string } = {},
): Promise<RunResult> {
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
  /** Local address to bind (another 127.x stands in for another host); 127.0.0.1 by default. */
  ip?: string;
}

/**
 * Background SIPps still binding their port. A UAC started right after its
 * UAS could send to a port nobody holds yet: the ICMP port unreachable
 * makes Trunkline give the gateway up at once (src/transport/udp-probe.ts).
 * sipp() waits for them first.
 */
const binding = new Set<Promise<void>>();

/** Whether ip:port is bound (UDP) or listening (TCP), from /proc/net (the address little-endian hex, the port hex). */
export function portBound(ip: string, port: number, proto: 'udp' | 'tcp' = 'udp'): boolean {
  const hex = (n: number, w: number): string => n.toString(16).toUpperCase().padStart(w, '0');
  const addr = ip
    .split('.')
    .reverse()
    .map((o) => hex(Number(o), 2))
    .join('');
  try {
    return readFileSync(`/proc/net/${proto}`, 'utf8').includes(`${addr}:${hex(port, 4)}`);
  } catch {
    return true; // no /proc/net here: nothing to wait for
  }
}

async function untilBound(ip: string, port: number, proto: 'udp' | 'tcp', exited: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !exited() && !portBound(ip, port, proto); i++) await new Promise((r) => setTimeout(r, 50));
}

/** Runs SIPp in the foreground (-m calls, bounded by -timeout); exit code 0 means every call passed. */
export async function sipp(o: SippOptions): Promise<RunResult> {
  await Promise.all([...binding]);
  const args = [
    '-sf',
    o.scenario,
    o.target,
    '-i',
    o.ip ?? '127.0.0.1',
    '-p',
    String(o.localPort),
    '-t',
    o.transport ?? 'u1',
    '-m',
    String(o.calls ?? 1),
    '-r',
    String(o.rate ?? 10),
    '-timeout',
    `${o.timeoutS ?? 10}s`,
    '-timeout_error',
    '-nostdin',
    '-nr',
    ...(o.extra ?? []),
  ];
  return run('sipp', args, (o.timeoutS ?? 10) * 1000 + 5000);
}

export interface BackgroundSipp {
  /** Resolves when SIPp exits (by itself after -m calls, or when stopped). */
  done: Promise<RunResult>;
  /** Ends it at once (SIGTERM): a call still in progress is cut off. */
  stop(): Promise<RunResult>;
  /**
   * Ends it once its calls in progress have ended (SIGUSR1: SIPp takes no
   * new call and quits after the current ones), or after `graceMs` at
   * most. For a UAS whose port a later test reuses: a request of one of its
   * calls still on its way (the B2BUA's BYE) is answered, so that it is not
   * retransmitted to the next SIPp on that port, which would count it as a
   * call of its own.
   */
  finish(graceMs?: number): Promise<RunResult>;
}

/** Starts a SIPp (a UAS, typically) in the background on 127.0.0.1:port; bounded by -timeout and a kill timer. */
export function sippBackground(
  scenarioFile: string,
  port: number,
  opts: { transport?: 'u1' | 't1'; calls?: number; timeoutS?: number; extra?: string[]; ip?: string } = {},
): BackgroundSipp {
  const timeoutS = opts.timeoutS ?? 30;
  const args = [
    '-sf',
    scenarioFile,
    '-i',
    opts.ip ?? '127.0.0.1',
    '-p',
    String(port),
    '-t',
    opts.transport ?? 'u1',
    '-m',
    String(opts.calls ?? 1),
    '-timeout',
    `${timeoutS}s`,
    '-nostdin',
    '-nr',
    ...(opts.extra ?? []),
  ];
  const child = spawn('sipp', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const bound = untilBound(
    opts.ip ?? '127.0.0.1',
    port,
    opts.transport === 't1' ? 'tcp' : 'udp',
    () => child.exitCode !== null,
  );
  binding.add(bound);
  void bound.finally(() => binding.delete(bound));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), (timeoutS + 5) * 1000);
  const done = new Promise<RunResult>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
  return {
    done,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return done;
    },
    finish: async (graceMs = 5000) => {
      if (child.exitCode !== null) return done;
      child.kill('SIGUSR1');
      const cutOff = setTimeout(() => child.kill('SIGTERM'), graceMs);
      const r = await done;
      clearTimeout(cutOff);
      return r;
    },
  };
}

/** A copy of a scenario with [name] placeholders replaced (SIPp does not substitute keys in recv attributes). */
export function scenarioWith(name: string, values: Record<string, string>): string {
  let text = readFileSync(scenario(name), 'utf8');
  for (const [k, v] of Object.entries(values)) text = text.split(`[${k}]`).join(v);
  const file = join(mkdtempSync(join(tmpdir(), 'sipp-scn-')), name);
  writeFileSync(file, text);
  return file;
}
