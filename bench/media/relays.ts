/**
 * The two relays bench/media compares, each in its own process: the
 * built-in engine in builtin-child.ts (driven over IPC) and rtpengine's
 * daemon (userspace, `--table=-1`, driven by Trunkline's ng client).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { CallMediaStats, LegMediaOptions, MediaEngine, Side } from '../../src/media/engine.js';
import { NgClient, RtpengineMediaEngine } from '../../src/media/rtpengine.js';
import { rtpengineArgs, rtpengineBinary } from '../../test/media/rtpengine-daemon.js';

export type EngineName = 'builtin' | 'rtpengine';

/** A wait that does not keep the process alive (the races below end before it does). */
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

/** The built-in engine behind IPC. */
class ChildEngine {
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private constructor(readonly proc: ChildProcess) {
    proc.on('message', (m: { id?: number; ok?: boolean; value?: unknown; error?: string }) => {
      if (m.id === undefined) return;
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.ok) w?.resolve(m.value);
      else w?.reject(new Error(m.error));
    });
  }
  static async start(range: { min: number; max: number }): Promise<ChildEngine> {
    const here = dirname(fileURLToPath(import.meta.url));
    const proc = fork(join(here, 'builtin-child.js'), [String(range.min), String(range.max)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve, reject) => {
      proc.once('message', () => resolve());
      proc.once('exit', (c) => reject(new Error(`builtin child exited ${c}`)));
    });
    return new ChildEngine(proc);
  }
  private call<T>(op: string, args: unknown[]): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ id, op, args });
    });
  }
  offer(sid: string, from: Side, sdp: string, o: LegMediaOptions): Promise<string> {
    return this.call('offer', [sid, from, sdp, o]);
  }
  answer(sid: string, from: Side, sdp: string, o: LegMediaOptions): Promise<string> {
    return this.call('answer', [sid, from, sdp, o]);
  }
  delete(sid: string): Promise<CallMediaStats> {
    return this.call('delete', [sid]);
  }
  async stop(): Promise<void> {
    const exited = new Promise((r) => this.proc.once('exit', r));
    await this.call('exit', []).catch(() => undefined);
    await Promise.race([exited, sleep(2000)]);
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

export interface Relay {
  name: EngineName;
  pid: number;
  /** rtpengine's ng control port. */
  ngPort?: number;
  engine: Pick<MediaEngine, 'offer' | 'answer' | 'delete'>;
  stop(): Promise<void>;
}

function portRange(size: number): { min: number; max: number } {
  const min = 40000 + 2 * Math.floor(Math.random() * ((10000 - size) / 2));
  return { min, max: min + size - 1 };
}

/** Ports for the largest step: 4 per call (RTP+RTCP per leg) and a margin for ports other processes hold. */
let rangeSize = 2400;

export function setPortRangeSize(n: number): void {
  rangeSize = n;
}

export async function startBuiltin(): Promise<Relay> {
  const e = await ChildEngine.start(portRange(rangeSize));
  return { name: 'builtin', pid: e.proc.pid!, engine: e, stop: () => e.stop() };
}

export async function startRtpengine(oneThread: boolean): Promise<Relay> {
  const bin = rtpengineBinary();
  if (bin === null) throw new Error('rtpengine not installed (Debian rtpengine-daemon; scripts/install-deps.sh)');
  const ng = 20000 + Math.floor(Math.random() * 12000);
  const r = portRange(rangeSize);
  const proc = spawn(
    bin,
    rtpengineArgs({
      ngPort: ng,
      ports: r,
      logLevel: 3,
      // The dtls mode's handshakes (werift-dtls as client) stall now and then against rtpengine's
      // several threads; with one thread they do not. The relay work measured is the same.
      extra: ['--timeout=3600', ...(oneThread ? ['--num-threads=1'] : [])],
    }),
    {
      stdio: ['ignore', 'ignore', 'ignore'],
    },
  );
  const probe = new NgClient('127.0.0.1', ng, 200, 1);
  let up = false;
  for (let i = 0; i < 50 && !up; i++)
    up = (await probe.command({ command: 'ping' }).catch(() => null))?.result === 'pong';
  probe.close();
  if (!up) {
    proc.kill('SIGKILL');
    throw new Error('rtpengine did not start');
  }
  const engine = new RtpengineMediaEngine({
    ng: { host: '127.0.0.1', port: ng },
    timeout: 3600,
    holdTimeout: 3600,
    pollMs: 3_600_000,
  });
  return {
    name: 'rtpengine',
    pid: proc.pid!,
    ngPort: ng,
    engine,
    stop: async () => {
      await engine.close();
      const exited = new Promise((res) => proc.once('exit', res));
      proc.kill('SIGTERM');
      await Promise.race([exited, sleep(3000)]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}
