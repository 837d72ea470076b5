/**
 * The CDR webhook's figures at /metrics:
 *
 *   trunkline_cdr_webhook_outbox_depth                CDRs in the outbox, not yet taken by the receiver (parked included)
 *   trunkline_cdr_webhook_outbox_parked               of them, parked after `retries` refusals (sent again at the next start)
 *   trunkline_cdr_webhook_sent_total                  CDRs the receiver took (2xx)
 *   trunkline_cdr_webhook_failures_total{reason}      failed POSTs: refused (4xx but 408, 429) or unavailable
 *
 * The outbox is counted at each scrape (one query); in a cluster every node
 * reports the shared outbox.
 */
import type { Metrics } from '../metrics/metrics.js';
import type { CdrWebhook } from './webhook.js';

export function registerWebhookMetrics(m: Metrics, w: CdrWebhook): void {
  m.gauge(
    'trunkline_cdr_webhook_outbox_depth',
    'CDRs waiting in the outbox for the CDR webhook (parked included)',
    async () => (await w.counts()).depth,
  );
  m.gauge(
    'trunkline_cdr_webhook_outbox_parked',
    'CDRs parked in the outbox after too many refusals',
    async () => (await w.counts()).parked,
  );
  m.counter('trunkline_cdr_webhook_sent_total', 'CDRs the webhook receiver took (2xx)', [], function collect() {
    this.reset();
    this.inc(w.figures.sent);
  });
  m.counter(
    'trunkline_cdr_webhook_failures_total',
    'failed CDR webhook POSTs: refused (4xx but 408, 429) or unavailable (no answer, timeout, 5xx, 408, 429)',
    ['reason'],
    function collect() {
      this.reset();
      this.inc({ reason: 'refused' }, w.figures.failures.refused);
      this.inc({ reason: 'unavailable' }, w.figures.failures.unavailable);
    },
  );
}
