/**
 * Prometheus metrics (prom-client), served at /metrics. Everything is read
 * at scrape time from what the modules already count, so the signalling
 * path pays nothing for it but the SIP message tap (sip-messages.ts):
 *
 *   trunkline_sip_requests_total{direction,transport,method}
 *   trunkline_sip_responses_total{direction,transport,status_class}
 *   trunkline_<counter>_total          every other name of core/counters.ts
 *                                      (parse errors, drops, proxy outcomes...)
 *   trunkline_security_drops_total{reason}, trunkline_security_bans_total{reason},
 *   trunkline_proxy_replies_total{status}, trunkline_stateless_responses_total{status_class},
 *   trunkline_calls_refused_total{status,cause}
 *                                      families of core counter names (families.ts)
 *   trunkline_sip_transactions{kind}   server and client transactions now
 *   trunkline_proxy_forward_contexts   requests being forwarded now
 *   trunkline_registrations            live bindings in the location table
 *   trunkline_registrations_total      REGISTERs that changed bindings
 *   trunkline_hep_packets_total{outcome}, trunkline_event_stream_clients,
 *   trunkline_api_requests_total{method,route,status}
 *   process_*, nodejs_* (event-loop lag, heap, GC, handles); the lag
 *                                      histogram (nodejs_eventloop_lag_p99_seconds...) samples the loop
 *                                      once a second (LAG_SAMPLE_MS), not prom-client's 100 times:
 *                                      an idle server is not woken for it
 *
 * A later module adds its own in one line:
 *   metrics.counter('trunkline_calls_total', 'calls by outcome', ['trunk', 'direction', 'disposition'])
 *   metrics.gauge('trunkline_dialogs', 'dialogs now', () => b2bua.dialogCount())
 * Label values must be bounded: names of trunks and carriers, never call
 * IDs, numbers or source addresses.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Counters } from '../core/counters.js';
import { SipMessageCounts } from './sip-messages.js';
import { SECURITY_BANS, SECURITY_DROPS } from './security.js';
import { PROXY_REPLIES, STATELESS_RESPONSES, type CounterFamily } from './families.js';

/** How often the event-loop lag histogram samples the loop (ms); nodejs_eventloop_lag_seconds is measured at each scrape. */
const LAG_SAMPLE_MS = 1000;

export class Metrics {
  readonly registry = new Registry();
  readonly messages = new SipMessageCounts();
  readonly #counters: Counters;
  readonly #exported = new Set<string>();
  readonly #families: CounterFamily[] = [];
  readonly registrations: Counter;

  constructor(counters: Counters) {
    this.#counters = counters;
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: LAG_SAMPLE_MS });
    const messages = this.messages;
    this.counter(
      'trunkline_sip_requests_total',
      'SIP requests received (in) and sent (out), by transport and method',
      ['direction', 'transport', 'method'],
      function collect() {
        this.reset();
        for (const e of messages.entries())
          if (e.method !== undefined)
            this.inc({ direction: e.direction, transport: e.transport, method: e.method }, e.value);
      },
    );
    this.counter(
      'trunkline_sip_responses_total',
      'SIP responses received (in) and sent (out), by transport and status class',
      ['direction', 'transport', 'status_class'],
      function collect() {
        this.reset();
        for (const e of messages.entries())
          if (e.statusClass !== undefined)
            this.inc({ direction: e.direction, transport: e.transport, status_class: e.statusClass }, e.value);
      },
    );
    this.registrations = this.counter('trunkline_registrations_total', 'REGISTER requests that changed bindings');
    this.family(SECURITY_DROPS);
    this.family(SECURITY_BANS);
    this.family(PROXY_REPLIES);
    this.family(STATELESS_RESPONSES);
  }

  /** A counter in this registry (`collect` runs at each scrape, for values kept elsewhere). */
  counter<L extends string = string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    collect?: (this: Counter<L>) => void | Promise<void>,
  ): Counter<L> {
    return new Counter<L>({ name, help, labelNames, registers: [this.registry], ...(collect && { collect }) });
  }

  /** A gauge whose value is read at each scrape (`read` returns a number, or [labels, value] pairs). */
  gauge<L extends string = string>(
    name: string,
    help: string,
    read: () =>
      | number
      | Array<[Partial<Record<L, string>>, number]>
      | Promise<number | Array<[Partial<Record<L, string>>, number]>>,
    labelNames: readonly L[] = [],
  ): Gauge<L> {
    return new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      async collect() {
        const v = await read();
        if (typeof v === 'number') {
          this.set(v);
          return;
        }
        this.reset();
        for (const [labels, value] of v) this.set(labels as never, value);
      },
    });
  }

  /**
   * One labelled counter for a family of core counter names (families.ts),
   * summed at each scrape; the names it takes are not exported one by one.
   */
  family<L extends string>(f: CounterFamily<L>): Counter<L> {
    this.#families.push(f as CounterFamily);
    const counters = this.#counters;
    return this.counter(f.name, f.help, f.labelNames, function collect() {
      this.reset();
      for (const labels of f.always ?? []) this.inc(labels as never, 0);
      for (const [key, v] of Object.entries(counters.snapshot())) {
        const labels = f.labelsOf(key);
        if (labels !== null) this.inc(labels as never, v);
      }
    });
  }

  /** Registers a metric for each counter name that appeared since the last scrape (and no family takes). */
  #syncCounters(): void {
    const counters = this.#counters;
    for (const key of Object.keys(counters.snapshot())) {
      if (this.#exported.has(key)) continue;
      this.#exported.add(key);
      if (this.#families.some((f) => f.labelsOf(key) !== null)) continue;
      const name = `trunkline_${key.replace(/[^a-zA-Z0-9_]/g, '_')}_total`;
      if (this.registry.getSingleMetric(name) !== undefined) continue;
      this.counter(name, `core counter ${key}`, [], function collect() {
        this.reset();
        this.inc(counters.get(key));
      });
    }
  }

  /** The exposition text (Prometheus 0.0.4). */
  async text(): Promise<string> {
    this.#syncCounters();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
