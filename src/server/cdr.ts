/**
 * The CDR webhook (`cdr.webhook`, src/cdr/webhook.ts), null without it.
 * Built before the B2BUA, which writes its CDRs through the webhook's sink
 * (CDR and outbox row in one transaction); its part starts before the
 * B2BUA's and so stops after it, once the last CDRs are in the outbox.
 */
import { hostname } from 'node:os';
import type { TrunklineConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/index.js';
import type { Cluster } from '../cluster/cluster.js';
import type { Operations } from '../api/operations.js';
import { CdrWebhook } from '../cdr/webhook.js';
import { registerWebhookMetrics } from '../cdr/metrics.js';
import type { Part } from './parts.js';

export function buildCdrWebhook(
  config: TrunklineConfig,
  store: Store,
  ops: Operations,
  log: Logger,
  cluster: Cluster | null,
): CdrWebhook | null {
  const hook = config.cdr.webhook;
  if (hook === undefined) return null;
  const webhook = new CdrWebhook({
    store,
    config: hook,
    log: log.child({ mod: 'cdr-webhook' }),
    node: cluster?.id ?? hostname(),
    shared: cluster !== null,
  });
  registerWebhookMetrics(ops.metrics, webhook);
  return webhook;
}

export function cdrWebhookPart(webhook: CdrWebhook): Part {
  return { name: 'CDR webhook', start: () => webhook.start(), stop: () => webhook.stop() };
}
