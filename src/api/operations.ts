/**
 * The operations side of a running server, wired by src/server/ in a few
 * lines: the event bus, the metrics, HEP capture (with the transport tap
 * they share), the HTTP API listener and the pid file.
 *
 *   const ops = new Operations(config, log, counters);     before the core is built (ops.bus goes into the stages' env)
 *   registrar: onRegistered: ops.onRegistered               the registration event
 *   ops.attachTrunking({...})                               call metrics and HEP correlation, from the bus
 *   await ops.start({store, transport, layer, proxy, reload})   after the listeners are bound
 *   ops.reload(next)                                        at each reload (capture, API TLS)
 *   await ops.stop()                                        first thing at stop, after the calls
 */
import type { Cluster } from '../cluster/cluster.js';
import { ALONE } from '../cluster/status.js';
import { registerClusterMetrics } from '../cluster/metrics.js';
import type { TrunklineConfig } from '../config/schema.js';
import { ConfigError, loadConfig } from '../config/load.js';
import type { Counters } from '../core/counters.js';
import { EventBus } from '../core/events.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/index.js';
import { TokenRepo } from '../store/repos/tokens.js';
import { ensureTlsFiles } from '../tls/self-signed.js';
import type { TransportLayer } from '../transport/transport-layer.js';
import type { Flow } from '../transport/types.js';
import { HepCapture } from '../capture/capture.js';
import { CallTraces } from '../capture/trace.js';
import { callIdSpan } from '../capture/raw-headers.js';
import { TrunkingOps, type TrunkingSource } from './trunking-ops.js';
import { Metrics } from '../metrics/metrics.js';
import { buildApi, type Api } from './app.js';
import { ApiError } from './errors.js';
import { writePidFile } from './pidfile.js';
import { packageVersion } from './version.js';
import { formatHostPort } from '../config/address.js';
import type { Admission } from '../core/admission.js';
import type { DrainStatus } from '../core/drain.js';
import type { SecurityService } from '../security/service.js';
import { LoginGuard } from './login-guard.js';
import type { CallService } from './resource.js';
import type { QualitySnapshot } from '../trunking/quality.js';

export interface OpsDeps {
  store: Store;
  transport: TransportLayer;
  /** Transactions now: server and client. */
  transactions(): { server: number; client: number };
  /** Requests being forwarded now. */
  forwarding(): number;
  /** Applies a new config to the whole server (RunningServer.reload). */
  apply(next: TrunklineConfig): Promise<void>;
  /** Whether new calls are taken (not ready while draining or stopping). */
  admission?: Admission;
  /** Drain mode (RunningServer.drain): POST /api/v1/drain. */
  drain?(timeoutS: number | null): DrainStatus;
  /** The security edge: failed API logins count toward its bans, and its bans hold on the API (login-guard.ts). */
  security?: Pick<SecurityService, 'activeBan' | 'failures' | 'trust'>;
}

export class Operations {
  readonly bus: EventBus;
  readonly metrics: Metrics;
  readonly capture: HepCapture;
  /** The ring buffer of the last calls' SIP messages (capture.traceCalls). */
  readonly traces: CallTraces;
  #trunking: TrunkingOps | null = null;
  #trunkingSource: TrunkingSource | null = null;
  #config: TrunklineConfig;
  readonly #log: Logger;
  readonly #counters: Counters;
  #api: Api | null = null;
  #removePid: (() => void) | null = null;
  #deps: OpsDeps | null = null;
  #cluster: Cluster | null = null;
  /** The calls the API lists and hangs up: the cluster's (attachCalls), else the B2BUA's. */
  #calls: CallService | null = null;
  /** The API's address once it listens (port 0 in the config: the one given). */
  address: { host: string; port: number; tls: boolean } | null = null;

  constructor(config: TrunklineConfig, log: Logger, counters: Counters) {
    this.#config = config;
    this.#log = log;
    this.#counters = counters;
    this.bus = new EventBus(log);
    this.metrics = new Metrics(counters);
    this.capture = new HepCapture(log.child({ mod: 'capture' }));
    this.traces = new CallTraces(config.capture.traceCalls);
  }

  /**
   * The trunk calls' side (before start): call metrics, HEP and trace
   * correlation of both legs, from the call events on the bus.
   */
  attachTrunking(src: TrunkingSource): void {
    const t = new TrunkingOps(src, {
      bus: this.bus,
      capture: this.capture,
      traces: this.traces,
      metrics: this.metrics,
    });
    this.traces.setResolver(src.legOwner);
    this.#trunking = t;
    this.#trunkingSource = src;
  }

  /** A node of a cluster: GET /api/v1/cluster, the cluster metrics, its API address in the node table. */
  attachCluster(cluster: Cluster): void {
    this.#cluster = cluster;
    registerClusterMetrics(this.metrics, cluster);
  }

  /** In a cluster: the API lists and hangs up every node's calls (src/b2bua/shared-calls.ts). */
  attachCalls(calls: CallService): void {
    this.#calls = calls;
  }

  /** Carriers' and gateways' quality figures (the control socket's `quality`); null without trunking. */
  quality(): QualitySnapshot | null {
    return this.#trunkingSource?.quality?.() ?? null;
  }

  /** The gateway monitor's onChange: gateway.up / gateway.down events. */
  readonly onGateway = (uri: string, up: boolean): void => {
    this.#trunking?.onGateway(uri, up);
  };

  /** The registrar's hook: a REGISTER changed an AOR's bindings. */
  readonly onRegistered = (aor: string, contacts: string[], flow: Flow): void => {
    this.metrics.registrations.inc();
    this.bus.publish('registration', { aor, contacts, source: `${flow.proto}:${flow.remoteHost}:${flow.remotePort}` });
  };

  /** Metrics, capture and the tap, the pid file, then the API listener. Rejects naming `api.listen` when it cannot bind. */
  async start(deps: OpsDeps): Promise<void> {
    this.#deps = deps;
    const m = this.metrics;
    m.gauge(
      'trunkline_sip_transactions',
      'SIP transactions now, by kind',
      () => {
        const t = deps.transactions();
        return [
          [{ kind: 'server' }, t.server],
          [{ kind: 'client' }, t.client],
        ];
      },
      ['kind'],
    );
    m.gauge('trunkline_proxy_forward_contexts', 'requests being forwarded now (proxy forward contexts)', () =>
      deps.forwarding(),
    );
    m.gauge('trunkline_draining', '1 while the server takes no new calls (draining or stopping), else 0', () =>
      deps.admission?.open === false ? 1 : 0,
    );
    m.gauge('trunkline_registrations', 'live bindings in the location table', async () => {
      const row = await deps.store.db
        .selectFrom('location')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('expires_at', '>', Date.now())
        .executeTakeFirst();
      return Number(row?.n ?? 0);
    });
    m.gauge('trunkline_transport_connections', 'open stream connections (TCP, TLS, WS, WSS)', () =>
      deps.transport.connectionCount(),
    );
    m.gauge('trunkline_event_stream_clients', 'open /api/v1/events streams', () => this.#api?.events.count ?? 0);
    const stats = this.capture.stats;
    m.counter('trunkline_hep_packets_total', 'HEP packets by outcome', ['outcome'], function collect() {
      this.reset();
      this.inc({ outcome: 'sent' }, stats.sent);
      this.inc({ outcome: 'dropped' }, stats.dropped);
      this.inc({ outcome: 'error' }, stats.errors);
    });

    this.capture.configure(this.#config.capture);
    const messages = this.metrics.messages;
    const capture = this.capture;
    const traces = this.traces;
    // The one tap: message counts always, traces while kept (first: they correlate a new leg for HEP), HEP while capture is on;
    // the Call-ID both need is found once.
    deps.transport.setTap((dir, data, flow) => {
      messages.observe(dir, data, flow);
      const t = traces.enabled;
      const c = capture.enabled;
      if (!t && !c) return;
      const callId = callIdSpan(data);
      if (t) traces.tap(dir, data, flow, callId);
      if (c) capture.tap(dir, data, flow, callId);
    });
    this.#trunking?.start();

    this.#removePid = writePidFile(this.#config.data);
    try {
      await this.#listen(deps);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async #listen(deps: OpsDeps): Promise<void> {
    const c = this.#config.api;
    const tls = c.tls ? await ensureTlsFiles(this.#config) : undefined;
    const api = await buildApi(
      {
        ctx: {
          store: deps.store,
          tokens: new TokenRepo(deps.store.ctx),
          bus: this.bus,
          now: Date.now,
          traces: this.traces,
          ...(this.#calls !== null && { calls: this.#calls }),
          ...(this.#calls === null &&
            this.#trunkingSource !== null && {
              calls: { list: this.#trunkingSource.calls, hangUp: this.#trunkingSource.hangUp },
            }),
          ...(deps.drain !== undefined && { drain: deps.drain }),
          cluster: () => this.#cluster?.status() ?? Promise.resolve(ALONE),
          ...(this.#trunkingSource?.unknownSources !== undefined && {
            unknownSources: this.#trunkingSource.unknownSources,
          }),
          ...(this.#trunkingSource?.quality !== undefined && { quality: this.#trunkingSource.quality }),
          ...(this.#trunkingSource?.carrierSettings !== undefined && {
            carrierSettings: this.#trunkingSource.carrierSettings,
          }),
          ...(this.#trunkingSource?.routingModule !== undefined && {
            routingModule: this.#trunkingSource.routingModule,
          }),
        },
        log: this.#log,
        metrics: this.metrics,
        version: packageVersion(),
        ready: () => this.#ready(),
        reload: () => this.#reloadFromFile(),
        ...(deps.security !== undefined && { logins: this.#loginGuard(deps.security, c.listen.host) }),
      },
      tls !== undefined ? { https: { cert: tls.cert, key: tls.key } } : {},
    );
    this.#api = api;
    try {
      await api.app.listen({ host: c.listen.host, port: c.listen.port, listenTextResolver: () => '' });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new Error(
        `api.listen ${formatHostPort(c.listen)}: ${code === 'EADDRINUSE' ? 'address in use' : err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    const addr = api.app.server.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : c.listen.port;
    this.address = { host: c.listen.host, port, tls: tls !== undefined };
    this.#cluster?.nodes.setApi(formatHostPort({ host: c.listen.host, port }));
    this.#log.info(
      { api: `${tls ? 'https' : 'http'}://${formatHostPort({ host: c.listen.host, port })}` },
      'api listening',
    );
  }

  #loginGuard(security: NonNullable<OpsDeps['security']>, apiHost: string): LoginGuard {
    const failures = security.failures;
    return new LoginGuard({
      activeBan: (ip) => security.activeBan(ip),
      record: failures === null ? null : (ip, reason) => void failures.record(ip, null, reason),
      isTrusted: security.trust.isTrusted,
      ownAddress: apiHost,
      log: this.#log,
      counters: this.#counters,
    });
  }

  async #ready(): Promise<string | null> {
    const deps = this.#deps;
    if (deps === null) return 'starting';
    // A load balancer moves new calls elsewhere (src/core/admission.ts).
    if (deps.admission !== undefined && !deps.admission.open) return deps.admission.state;
    try {
      await deps.store.ping();
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
    const bound = deps.transport.boundListeners().length;
    if (bound < this.#config.listen.length) return `${bound} of ${this.#config.listen.length} SIP listeners bound`;
    return null;
  }

  /** POST /api/v1/reload: the config file read again and applied, as SIGHUP does. */
  async #reloadFromFile(): Promise<{ config: string | null }> {
    const deps = this.#deps!;
    const source = this.#config.source;
    let next: TrunklineConfig;
    try {
      next = await loadConfig(source !== undefined ? { file: source } : {});
    } catch (err) {
      if (err instanceof ConfigError)
        throw new ApiError(400, `reload refused, the running config stays: ${err.message.replace(/\s*\n\s*/g, '; ')}`);
      throw err;
    }
    await deps.apply(next);
    this.#log.level = next.log.level;
    this.#log.info({ config: next.source ?? '(built-in defaults)', via: 'api' }, 'config reloaded');
    return { config: next.source ?? null };
  }

  /** Applies what may change live: capture on/off/elsewhere, the API's TLS files. */
  async reload(next: TrunklineConfig): Promise<void> {
    this.capture.configure(next.capture);
    this.traces.configure(next.capture.traceCalls);
    if (this.#api !== null && this.address?.tls === true) {
      const files = await ensureTlsFiles(next);
      (this.#api.app.server as unknown as { setSecureContext(o: object): void }).setSecureContext({
        cert: files.cert,
        key: files.key,
      });
    }
    const a = this.#config.api.listen;
    if (next.api.listen.host !== a.host || next.api.listen.port !== a.port || next.api.tls !== this.#config.api.tls) {
      this.#log.warn({ api: formatHostPort(next.api.listen) }, 'api.listen and api.tls take effect at the next start');
    }
    this.#config = { ...next, api: this.#config.api };
  }

  /** Closes the API (open event streams end), stops capture, removes the pid file. */
  async stop(): Promise<void> {
    const api = this.#api;
    this.#api = null;
    if (api !== null) {
      api.events.closeAll();
      await api.app.close();
    }
    this.#deps?.transport.setTap(null);
    this.#trunking?.stop();
    this.capture.stop();
    this.#removePid?.();
    this.#removePid = null;
  }
}
