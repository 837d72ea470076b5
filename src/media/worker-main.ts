/**
 * The built-in engine inside a worker thread (worker.ts is the other end):
 * RTP is relayed on this thread's event loop, so media load does not delay
 * SIP signalling on the main one. Requests {id, op, args} are answered
 * {id, ok, value | error}; timeouts and a figures snapshot (every statsMs,
 * only while there are calls: an idle relay does not wake up) are pushed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../log.js';
import { BuiltinMediaEngine, type BuiltinMediaOptions } from './builtin.js';
import type { LegMediaOptions, Side } from './engine.js';
import { MediaError } from './errors.js';

interface Init {
  options: Omit<BuiltinMediaOptions, 'log'>;
  logLevel?: string;
  statsMs: number;
}

export interface WorkerRequest {
  id: number;
  op: 'offer' | 'answer' | 'delete' | 'close';
  args: [string, Side, string, LegMediaOptions] | [string] | [];
}

const init = workerData as Init;
const port = parentPort!;
const engine = new BuiltinMediaEngine({
  ...init.options,
  ...(init.logLevel !== undefined && { log: createLogger(init.logLevel) }),
});
engine.onTimeout((sid, side) => port.postMessage({ timeout: [sid, side] }));

let timer: NodeJS.Timeout | null = null;
const postStats = (): void => port.postMessage({ stats: engine.allStats() });

/** Starts the snapshot timer with the first call; with the last one gone, one empty snapshot and it stops. */
function syncStatsTimer(): void {
  if (engine.callCount > 0 && timer === null) timer = setInterval(postStats, init.statsMs);
  else if (engine.callCount === 0 && timer !== null) {
    clearInterval(timer);
    timer = null;
    postStats();
  }
}

port.on('message', (m: WorkerRequest) => {
  const run = async (): Promise<unknown> => {
    switch (m.op) {
      case 'offer':
      case 'answer': {
        const [sid, side, sdp, opts] = m.args as [string, Side, string, LegMediaOptions];
        return m.op === 'offer' ? engine.offer(sid, side, sdp, opts) : engine.answer(sid, side, sdp, opts);
      }
      case 'delete':
        return engine.delete((m.args as [string])[0]);
      case 'close':
        await engine.close();
        return null;
    }
  };
  run().then(
    (value) => {
      syncStatsTimer();
      port.postMessage({ id: m.id, ok: true, value });
    },
    (err: unknown) => {
      syncStatsTimer();
      port.postMessage({
        id: m.id,
        ok: false,
        error:
          err instanceof MediaError
            ? { media: true, sipStatus: err.sipStatus, warnCode: err.warnCode, warning: err.warning }
            : { media: false, message: err instanceof Error ? err.message : String(err) },
      });
    },
  );
});
