/**
 * The SIP stack under every stage: TLS files, the transport with its
 * listeners, our identity (names and ports), the responder, the timer
 * wheel and the transaction layer, and whether calls are taken. Once the
 * listeners are bound, the shared record of the stages (StageEnv,
 * src/core/stage-env.ts) is made from it.
 */
import type { TrunklineConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { ensureTlsFiles, type TlsFiles as TlsFileSet } from '../tls/self-signed.js';
import { TransportLayer } from '../transport/transport-layer.js';
import type { TransportProto, TlsFiles as TransportTlsFiles } from '../transport/types.js';
import { Responder } from '../core/responder.js';
import { LocalIdentity } from '../core/local-identity.js';
import type { Counters } from '../core/counters.js';
import type { EventBus } from '../core/events.js';
import { Admission } from '../core/admission.js';
import type { StageEnv } from '../core/stage-env.js';
import { TimerWheel } from '../transaction/timer-wheel.js';
import { TransactionLayer } from '../transaction/transaction-layer.js';
import { SipLocator } from '../dns/resolver.js';
import { Interfaces } from '../dialog/interfaces.js';
import type { Part } from './parts.js';

const TLS_PROTOS: ReadonlySet<TransportProto> = new Set(['tls', 'wss']);

export interface SipStack {
  transport: TransportLayer;
  identity: LocalIdentity;
  responder: Responder;
  wheel: TimerWheel;
  layer: TransactionLayer;
  /** Open, draining or stopping: whether new calls are taken (src/core/admission.ts). */
  admission: Admission;
  /** `sip.serverHeader`, or null for none. */
  agentName: string | null;
}

/** The TLS files when a listener needs them (configured, or a generated localhost certificate). */
export async function tlsFilesFor(config: TrunklineConfig, log: Logger): Promise<TlsFileSet | undefined> {
  if (!config.listen.some((l) => TLS_PROTOS.has(l.proto))) return undefined;
  const tls = await ensureTlsFiles(config);
  if (tls.generated) log.info({ cert: tls.certFile }, 'generated a self-signed TLS certificate for localhost');
  return tls;
}

function tlsOptions(files: TlsFileSet, config: TrunklineConfig): TransportTlsFiles {
  return {
    cert: files.cert,
    key: files.key,
    ...(files.ca ? { ca: files.ca } : {}),
    verifyClient: config.tls.verifyClient,
    minVersion: config.tls.minVersion,
    maxVersion: config.tls.maxVersion,
  };
}

/** Addresses advertised per listener (listen entries of the object form): they name this server too. */
export function listenerAdvertised(config: TrunklineConfig): string[] {
  return config.listen.flatMap((l) => (l.advertise !== undefined ? [l.advertise] : []));
}

/** Builds the stack; nothing listens or runs yet. */
export function buildSipStack(
  config: TrunklineConfig,
  log: Logger,
  counters: Counters,
  tls: TlsFileSet | undefined,
): SipStack {
  const transport = new TransportLayer({
    listen: config.listen.map((l) => ({
      proto: l.proto,
      host: l.host,
      port: l.port,
      ...(l.networks !== undefined && { networks: l.networks }),
    })),
    ...(tls ? { tls: tlsOptions(tls, config) } : {}),
    limits: {
      maxStreamMessageBytes: config.sip.limits.maxMessageBytes,
      maxHeaderBytes: config.sip.limits.maxHeaderBytes,
      idleTimeoutMs: config.sip.limits.idleTimeoutMs,
      maxConnectionsPerIp: config.sip.limits.maxConnectionsPerIp,
    },
    log,
  });
  const agentName = config.sip.serverHeader === '' ? null : config.sip.serverHeader;
  const wheel = new TimerWheel(10);
  return {
    transport,
    identity: new LocalIdentity(config.listen, config.advertise ?? null, listenerAdvertised(config)),
    responder: new Responder(transport, counters, agentName),
    wheel,
    layer: new TransactionLayer({ transport, timers: config.sip.timers, log, wheel }),
    admission: new Admission(),
    agentName,
  };
}

/** The SIP listeners: bound at start (our identity learns their ports), closed at stop; a reload re-reads the TLS files. */
export function listenersPart(sip: SipStack, log: Logger): Part {
  return {
    name: 'SIP listeners',
    async start() {
      await sip.transport.start();
      for (const l of sip.transport.boundListeners()) sip.identity.addPort(l.boundPort);
    },
    stop: () => sip.transport.stop(),
    async reload(next) {
      if (!next.listen.some((l) => TLS_PROTOS.has(l.proto))) return;
      const files = await ensureTlsFiles(next);
      sip.transport.reloadTls(tlsOptions(files, next));
      log.info({ cert: files.certFile }, 'TLS certificate reloaded');
    },
  };
}

/** The transaction layer and its timer wheel: every transaction ended, every timer cancelled at stop. */
export function transactionsPart(sip: SipStack): Part {
  return {
    name: 'transaction layer',
    stop() {
      sip.layer.stop();
      sip.wheel.stop();
    },
  };
}

/** The shared record of the stages, once the listeners are bound (their ports and kernel sources). */
export function stageEnv(
  config: TrunklineConfig,
  sip: SipStack,
  counters: Counters,
  log: Logger,
  bus: EventBus,
): StageEnv {
  const bound = sip.transport.boundListeners();
  // Each bound listener with its advertise and media address; the transport's kernel sources, so both choose alike.
  const interfaces = new Interfaces(
    bound.map((b, i) => {
      const c = config.listen[i];
      return c === undefined
        ? b
        : {
            ...b,
            ...(c.advertise !== undefined && { advertise: c.advertise }),
            ...(c.media !== undefined && { media: c.media }),
          };
    }),
    config.advertise ?? null,
    {
      sources: sip.transport.sources,
      mediaPerListener: config.media.address === undefined && config.media.advertise === undefined,
    },
  );
  // transport=ws/wss: a WebSocket client's binding (RFC 7118), reached over the connection it registered on.
  const locator = new SipLocator({ supportedTransports: ['udp', 'tcp', 'tls', 'ws', 'wss'] });
  return {
    layer: sip.layer,
    wheel: sip.wheel,
    transport: sip.transport,
    locate: (uri) => locator.locate(uri),
    interfaces,
    counters,
    log,
    agentName: sip.agentName,
    bus,
  };
}

/** Our host as the first listener advertises it (From/To/PAI of the B2BUA, the media engine's default address). */
export function ourHost(sip: SipStack, env: StageEnv): string {
  const first = sip.transport.boundListeners()[0]!;
  return env.interfaces.forProto(first.proto, first.host)?.host ?? '127.0.0.1';
}
