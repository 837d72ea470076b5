/**
 * The media engine a server runs, from the `media` config block:
 * `engine: builtin` (the relay in this folder) or `engine: rtpengine` (the
 * ng client). The caller resolves the media address when the config has
 * none (advertise, or the first listen address: see MediaConfig.address).
 */
import type { MediaConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { BuiltinMediaEngine } from './builtin.js';
import type { MediaEngine } from './engine.js';
import { RtpengineMediaEngine } from './rtpengine.js';
import { WorkerMediaEngine } from './worker.js';

export type { CallMediaStats, FlowStats, LegMediaOptions, MediaEngine, MediaProfile, Side } from './engine.js';
export { MediaError } from './errors.js';
export { BuiltinMediaEngine } from './builtin.js';
export { RtpengineMediaEngine } from './rtpengine.js';
export { WorkerMediaEngine } from './worker.js';

/** The configured engine; null for `engine: none` (SDP passes unchanged). */
export function createMediaEngine(cfg: MediaConfig, defaultAddress: string, log?: Logger): MediaEngine | null {
  if (cfg.engine === 'none') return null;
  const common = {
    timeout: cfg.timeout,
    holdTimeout: cfg.holdTimeout,
    ...(log !== undefined && { log: log.child({ mod: 'media' }) }),
  };
  if (cfg.engine === 'rtpengine') {
    const ng = cfg.ng ?? { host: '127.0.0.1', port: 2223 };
    return new RtpengineMediaEngine({ ng: { host: ng.host, port: ng.port }, ...common });
  }
  const options = {
    address: cfg.address ?? defaultAddress,
    ...(cfg.advertise !== undefined && { advertise: cfg.advertise }),
    ports: cfg.ports,
    timeout: cfg.timeout,
    holdTimeout: cfg.holdTimeout,
  };
  if (cfg.worker) return new WorkerMediaEngine(options, log !== undefined ? { logLevel: log.level } : {});
  return new BuiltinMediaEngine({ ...options, ...common });
}
