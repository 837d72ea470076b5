/**
 * The composition root: startServer() builds Trunkline from its config and
 * starts its parts in one ordered list (parts.ts). The list gives the start,
 * the stop (the reverse: the first lines of a shutdown are the last parts)
 * and the reload. The request pipeline those parts form is written out in
 * pipeline.ts; docs/DESIGN.md has both pictures.
 *
 *   #  part                     start                          stop (runs 17 -> 1)
 *   1  store                    open                           close
 *   2  security edge            bans, lists loaded; polled     polling ends
 *   3  expired bindings purge   every minute                   ends
 *   4  SIP listeners            bound                          closed
 *   5  cluster                  joins (Redis, heartbeat, bus)  leaves (others see it gone)
 *   5b cluster registrations    flow key; nodes gone swept     ends
 *   6  transaction layer        -                              transactions, timers end
 *   7  media engine             made                           closed
 *   7b CDR webhook (cdr.webhook) POSTs the CDR outbox          POSTs under way end (5 s at most)
 *   7c routing module           routing.module loaded          -
 *   8  B2BUA                    -                              CDRs written (5 s at most)
 *   8b shared calls (cluster)    follow the calls               their end written to Redis (1 s at most)
 *   9  transactions in flight   -                              answered (5 s, else 2 s at most)
 *   10 control socket           listens                        closed
 *   11 trunking directory       loaded; polled                 polling ends
 *   12 request pipeline         the proxy takes requests       -
 *   13 carrier registrations    REGISTER                       un-REGISTER
 *   14 gateway monitor          pings                          ends
 *   14b carrier quality         demotions end, history kept    ends
 *   15 NAT keep-alive           pings                          ends
 *   16 operations               metrics, capture, pid, API     API closed, pid file removed
 *   17 admission                calls taken                    503 to new calls, calls up hung up
 *
 * Reload runs the parts' reload in start order: security steps (2), TLS
 * files (4), the routing module (7c), header rules (8), routes (12),
 * quality thresholds (14b), capture and API TLS (16).
 */
import type { TrunklineConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { ListenSpec } from '../transport/types.js';
import { Counters } from '../core/counters.js';
import type { Drain, DrainStatus } from '../core/drain.js';
import { DialogStamp } from '../proxy/dialog-stamp.js';
import { loadRouteKey } from '../proxy/route-key.js';
import { openStore, type Store } from '../store/index.js';
import { StoreTrunkingDirectory } from '../trunking/directory.js';
import { Operations } from '../api/operations.js';
import { PartList, type Part } from './parts.js';
import {
  buildSipStack,
  listenersPart,
  ourHost,
  stageEnv,
  tlsFilesFor,
  transactionsPart,
  type SipStack,
} from './sip-stack.js';
import { buildSecurity, securityPart } from './security.js';
import { buildSubscribers, digestAlgorithms, keepAlivePart, purgePart } from './registrar.js';
import {
  MediaPart,
  b2buaPart,
  buildTrunking,
  carrierRegistrationsPart,
  directoryPart,
  gatewayMonitorPart,
  qualityPart,
  routingModulePart,
} from './trunking.js';
import { buildProxy, connectIngress, inFlightPart, pipelinePart } from './pipeline.js';
import { admissionPart, buildDrain, controlPart, localCalls, operationsPart } from './operations.js';
import { checkClusterStore, joinCluster, startSharedCalls } from './cluster.js';
import { buildCdrWebhook, cdrWebhookPart } from './cdr.js';
import { restoreFastPrototypes } from '../core/fast-prototypes.js';

export interface RunningServer {
  /** Stops taking calls, ends the calls up (BYE both legs, CDR), lets transactions finish, closes; once (later calls: the same promise). */
  stop(): Promise<void>;
  /** Resolves (never rejects) once stop() ended, whoever called it (a drain does): undefined, or the error it failed with. */
  stopped: Promise<unknown>;
  /** Drain mode (src/core/drain.ts): no new calls, stop once the calls up ended (or at the timeout, seconds). */
  drain(timeoutS: number | null): DrainStatus;
  reload(config: TrunklineConfig): Promise<void>;
  counters: Counters;
  listeners(): Array<ListenSpec & { boundPort: number }>;
  /** Events, metrics, capture and the HTTP API. */
  ops: Operations;
}

/**
 * Starts Trunkline: TLS files (configured or a generated localhost
 * certificate), the transports of `listen`, and the signalling core behind
 * them. Resolves once every part started; rejects naming the listener (or
 * the API address) that could not be bound, every part started before the
 * failure stopped again.
 */
export async function startServer(config: TrunklineConfig, log: Logger): Promise<RunningServer> {
  const parts = new PartList(log);
  try {
    return await startParts(config, log, parts);
  } catch (err) {
    // Failures of those stops are logged; the start's error is the one that counts.
    await parts.stop().catch(() => undefined);
    throw err;
  }
}

function storePart(store: Store): Part {
  return { name: 'store', stop: () => store.close() };
}

async function startParts(config: TrunklineConfig, log: Logger, parts: PartList): Promise<RunningServer> {
  const tls = await tlsFilesFor(config, log);
  const algorithms = digestAlgorithms(process.env, config.registrar.algorithms);
  // Our Record-Route stamps: the key is kept in the data directory, since dialogs outlive a restart.
  const dialogStamp = new DialogStamp(await loadRouteKey(config.data));
  checkClusterStore(config);
  const store = await openStore(config.database, { log });
  await parts.start(storePart(store));
  const counters = new Counters();
  const ops = new Operations(config, log, counters);
  const sip = buildSipStack(config, log, counters, tls);
  const security = buildSecurity(config, store, sip, counters, log);
  connectIngress(config, sip, security, counters, log);
  await parts.start(securityPart(security));
  await parts.start(purgePart(store, log));
  await parts.start(listenersPart(sip, log));
  const { cluster, flows } = await joinCluster(config, { store, transport: sip.transport, ops, security, parts, log });

  const env = stageEnv(config, sip, counters, log, ops.bus);
  await parts.start(transactionsPart(sip));
  const host = ourHost(sip, env);
  const media = new MediaPart(config, host, log);
  await parts.start(media);
  const cdrWebhook = buildCdrWebhook(config, store, ops, log, cluster);
  if (cdrWebhook !== null) await parts.start(cdrWebhookPart(cdrWebhook));
  const directory = new StoreTrunkingDirectory({ store, log });
  // A registration trunk's PBX sends its callers' numbers as From user: proxy authentication leaves those to the trunking stage.
  const fromUserExempt = (aor: string): boolean => directory.trunkByRegistration(aor) !== null;
  const subscribers = buildSubscribers({
    config,
    store,
    security,
    ops,
    algorithms,
    agentName: sip.agentName,
    fromUserExempt,
    log,
    flows,
  });
  const trunking = buildTrunking({
    config,
    store,
    directory,
    env,
    transport: sip.transport,
    media: media.link,
    ourHost: host,
    security,
    location: subscribers.location,
    ops,
    log,
    cluster,
    ...(cdrWebhook !== null && { cdrs: cdrWebhook.sink }),
  });
  cluster?.setFigures(() => ({
    calls: trunking.b2bua.liveCalls().length,
    registrations: flows?.registrations() ?? 0,
    carrierRegistrations: trunking.carrierRegistrations.list().filter((r) => r.registered).length,
  }));
  await parts.start(routingModulePart(trunking, config, log));
  await parts.start(b2buaPart(trunking, log));
  const shared = await startSharedCalls(cluster, trunking.b2bua, media.link, parts, ops, log);
  const stages = { subscribers, b2bua: trunking.b2bua, security, dialogStamp, dialogOwners: shared, flows };
  const proxy = buildProxy(config, sip, env, stages);
  await parts.start(inFlightPart(sip, proxy));
  const drain = buildDrain(sip, trunking.b2bua, parts, log);
  await parts.start(controlPart(config, shared ?? localCalls(trunking.b2bua), drain, ops, log));
  await parts.start(directoryPart(trunking, security));
  await parts.start(pipelinePart(sip, proxy, log));
  await parts.start(carrierRegistrationsPart(trunking));
  await parts.start(gatewayMonitorPart(trunking));
  await parts.start(qualityPart(trunking));
  await parts.start(keepAlivePart(config, store, env, proxy, log, flows?.self));
  await parts.start(operationsPart(ops, { store, sip, proxy, security, drain, reload: (next) => parts.reload(next) }));
  await parts.start(admissionPart(sip, trunking.b2bua, drain, log));

  // Every module is loaded by now, the redis client's `extends String` too.
  restoreFastPrototypes();
  return started(config, { sip, counters, ops, parts, drain }, log);
}

/** The line that says the server runs (the tests and the benches wait for it), and its handle. */
function started(
  config: TrunklineConfig,
  s: { sip: SipStack; counters: Counters; ops: Operations; parts: PartList; drain: Drain },
  log: Logger,
): RunningServer {
  const bound = s.sip.transport.boundListeners();
  log.info(
    {
      listen: bound.map((l) => `${l.proto}:${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.boundPort}`),
      routes: config.routes.length,
    },
    'trunkline started',
  );
  return {
    counters: s.counters,
    ops: s.ops,
    listeners: () => s.sip.transport.boundListeners(),
    stop: () => s.parts.stop(),
    stopped: s.parts.stopped,
    drain: (timeoutS) => s.drain.start(timeoutS),
    reload: (next) => s.parts.reload(next),
  };
}
