/**
 * The security edge (src/security): bans and flood before parsing, the
 * pipeline before the transaction layer (the ingress hands requests to
 * both), the brute-force counter for digest authentication, and the call
 * policy for the trunking stage.
 */
import type { TrunklineConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Counters } from '../core/counters.js';
import type { Store } from '../store/index.js';
import { SecurityService } from '../security/service.js';
import { listenerAdvertised, type SipStack } from './sip-stack.js';
import type { Part } from './parts.js';

export function buildSecurity(
  config: TrunklineConfig,
  store: Store,
  sip: SipStack,
  counters: Counters,
  log: Logger,
): SecurityService {
  const { identity, admission, transport } = sip;
  return new SecurityService({
    config: config.security,
    store,
    counters,
    responder: sip.responder,
    log,
    selfAddresses: [
      ...config.listen.map((l) => l.host),
      ...(config.advertise !== undefined ? [config.advertise] : []),
      ...listenerAdvertised(config),
    ],
    // Its keep-alive answer (200 to an OPTIONS for us) only while calls are taken: draining or stopping, the proxy answers 503.
    isForUs: (uri) =>
      admission.open &&
      (uri.port === null ? identity.isLocalHost(uri.host) : identity.isLocalHostPort(uri.host, uri.port)),
    closeConnection: (id) => void transport.closeConnection(id),
  });
}

/** Bans and lists loaded from the store, then polled; a reload rebuilds the steps from the new config (bans carry over). */
export function securityPart(security: SecurityService): Part {
  return {
    name: 'security edge',
    start: () => security.start(),
    stop: () => security.stop(),
    reload: (next) => security.configure(next.security),
  };
}
