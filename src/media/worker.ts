/**
 * The built-in engine behind a worker thread (`media.worker: true`): the
 * same MediaEngine, its packet path on a thread of its own. offer, answer
 * and delete are messages to the worker (delete returns the worker's final
 * figures); stats() returns the snapshot the worker pushes every second
 * while it has calls (zero figures for a call set up since), onTimeout
 * callbacks run here.
 */
import { Worker } from 'node:worker_threads';
import type { BuiltinMediaOptions } from './builtin.js';
import { type CallMediaStats, emptyStats, type LegMediaOptions, type MediaEngine, type Side } from './engine.js';
import { MediaError, WARN } from './errors.js';

type WorkerError =
  { media: true; sipStatus: number; warnCode: number; warning: string } | { media: false; message: string };

export class WorkerMediaEngine implements MediaEngine {
  private readonly worker: Worker;
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly cbs: ((sid: string, side: Side) => void)[] = [];
  private snapshot = new Map<string, CallMediaStats>();
  private readonly known = new Set<string>();
  private dead: Error | null = null;
  /** Snapshots received from the worker (tests: none while it has no call). */
  statsPushes = 0;

  constructor(options: Omit<BuiltinMediaOptions, 'log'>, opts: { logLevel?: string; statsMs?: number } = {}) {
    this.worker = new Worker(new URL('./worker-main.js', import.meta.url), {
      workerData: { options, logLevel: opts.logLevel, statsMs: opts.statsMs ?? 1000 },
    });
    this.worker.on(
      'message',
      (m: {
        id?: number;
        ok?: boolean;
        value?: unknown;
        error?: WorkerError;
        timeout?: [string, Side];
        stats?: Record<string, CallMediaStats>;
      }) => {
        if (m.timeout !== undefined) {
          for (const cb of this.cbs) cb(m.timeout[0], m.timeout[1]);
        } else if (m.stats !== undefined) {
          this.statsPushes++;
          this.snapshot = new Map(Object.entries(m.stats));
        } else if (m.id !== undefined) {
          const w = this.waiting.get(m.id);
          this.waiting.delete(m.id);
          if (w === undefined) return;
          if (m.ok) w.resolve(m.value);
          else w.reject(toError(m.error!));
        }
      },
    );
    const fail = (err: Error): void => {
      this.dead = new MediaError(503, WARN.misc, `media worker stopped: ${err.message}`);
      for (const w of this.waiting.values()) w.reject(this.dead);
      this.waiting.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`exit ${code}`)));
  }

  private call<T>(op: string, args: unknown[]): Promise<T> {
    if (this.dead !== null) return Promise.reject(this.dead);
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, op, args });
    });
  }

  async offer(callSid: string, from: Side, sdp: string, toOther: LegMediaOptions): Promise<string> {
    const out = await this.call<string>('offer', [callSid, from, sdp, toOther]);
    this.known.add(callSid);
    return out;
  }

  answer(callSid: string, from: Side, sdp: string, toOther: LegMediaOptions): Promise<string> {
    return this.call('answer', [callSid, from, sdp, toOther]);
  }

  async delete(callSid: string): Promise<CallMediaStats> {
    this.known.delete(callSid);
    this.snapshot.delete(callSid);
    return this.call('delete', [callSid]);
  }

  onTimeout(cb: (callSid: string, side: Side) => void): void {
    this.cbs.push(cb);
  }

  stats(callSid: string): CallMediaStats | null {
    return this.snapshot.get(callSid) ?? (this.known.has(callSid) ? emptyStats() : null);
  }

  async close(): Promise<void> {
    if (this.dead === null) await this.call('close', []).catch(() => undefined);
    await this.worker.terminate();
  }
}

function toError(e: WorkerError): Error {
  return e.media ? new MediaError(e.sipStatus, e.warnCode, e.warning) : new MediaError(500, WARN.misc, e.message);
}
