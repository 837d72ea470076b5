/**
 * The operator's side of a running server as parts: the control socket the
 * CLI reaches (`trunkline calls`, `drain`, `hangup`, `trace`), operations
 * (metrics, capture, pid file, the HTTP API: src/api/operations.ts), drain
 * mode, and admission: the last part started and so the first stopped,
 * whose stop is the first step of every shutdown (no new call, the calls
 * up hung up).
 */
import type { Logger } from '../log.js';
import type { Store } from '../store/index.js';
import type { TrunklineConfig } from '../config/schema.js';
import { Drain, checkDrainTimeout } from '../core/drain.js';
import type { SecurityService } from '../security/service.js';
import type { B2bua } from '../b2bua/b2bua.js';
import type { Proxy } from '../proxy/proxy.js';
import type { Operations } from '../api/operations.js';
import type { CallService } from '../api/resource.js';
import { ControlServer } from '../control/control-server.js';
import { controlSocketPath } from '../control/protocol.js';
import type { SipStack } from './sip-stack.js';
import type { PartList, Part } from './parts.js';

/** Drain mode (src/core/drain.ts): no new calls; once the calls up ended (or at the timeout), the parts stop. */
export function buildDrain(sip: SipStack, b2bua: B2bua, parts: PartList, log: Logger): Drain {
  return new Drain({
    admission: sip.admission,
    liveCalls: () => b2bua.liveCount,
    closeCalls: () => b2bua.stopTakingCalls('Server draining'),
    // A failed stop is reported through `parts.stopped`.
    stop: () => void parts.stop().catch(() => undefined),
    log,
  });
}

/** A node alone: the B2BUA's own calls, for the control socket. */
export function localCalls(b2bua: B2bua): CallService {
  return { list: () => b2bua.liveCalls(), hangUp: (sid) => b2bua.hangUp(sid) };
}

/** The Unix socket of the CLI; a server without it still runs (logged). */
export function controlPart(
  config: TrunklineConfig,
  calls: CallService,
  drain: Drain,
  ops: Operations,
  log: Logger,
): Part {
  const control = new ControlServer(controlSocketPath(config.data), (req) => {
    if (req.cmd === 'calls') return calls.list();
    if (req.cmd === 'drain') return drain.start(checkDrainTimeout(req.timeout));
    if (req.cmd === 'hangup') return calls.hangUp(req.callSid);
    if (req.cmd === 'trace') return ops.traces.trace(req.callSid);
    if (req.cmd === 'quality') return ops.quality();
    throw new Error('unknown command');
  });
  return {
    name: 'control socket',
    start: () =>
      control
        .start()
        .catch((err: unknown) =>
          log.warn({ err: String(err) }, 'control socket not available: `trunkline calls` will not see this server'),
        ),
    stop: () => control.stop(),
  };
}

export interface OperationsDeps {
  store: Store;
  sip: SipStack;
  proxy: Proxy;
  security: SecurityService;
  drain: Drain;
  /** Applies a new config to every part (RunningServer.reload). */
  reload(next: TrunklineConfig): Promise<void>;
}

/** Metrics, capture and the tap, the pid file, then the API listener (a start failure names `api.listen`). */
export function operationsPart(ops: Operations, d: OperationsDeps): Part {
  const { layer, transport, admission } = d.sip;
  return {
    name: 'operations',
    start: () =>
      ops.start({
        store: d.store,
        transport,
        transactions: () => ({ server: layer.serverCount(), client: layer.clientCount() }),
        forwarding: () => d.proxy.activeContexts,
        apply: d.reload,
        admission,
        drain: (timeoutS) => d.drain.start(timeoutS),
        security: d.security,
      }),
    stop: () => ops.stop(),
    reload: (next) => ops.reload(next),
  };
}

/** Calls are taken while it runs; its stop: new INVITEs get 503 at once, the calls up are ended (BYE both legs, CDR) before anything closes. */
export function admissionPart(sip: SipStack, b2bua: B2bua, drain: Drain, log: Logger): Part {
  return {
    name: 'admission',
    stop() {
      sip.admission.stop();
      drain.cancel();
      const ended = b2bua.hangUpAll('Server shutting down');
      log.info({ calls: ended }, `shutting down: ${ended} calls ended`);
    },
  };
}
