/**
 * The operations side of the trunk calls, wired by src/server/ through
 * `ops.attachTrunking({...})`: the call events the B2BUA publishes on the
 * bus (call.started/answered/ended) become metrics (calls by trunk,
 * carrier, direction and disposition; calls now by trunk and account), HEP
 * correlation of both legs under the caller leg's Call-ID and trace
 * correlation of both legs under the call sid;
 * gateway up/down and carrier registration changes become bus events and
 * gauges.
 */
import type { LiveCall } from '../b2bua/b2bua.js';
import type { CarrierRegistrationState } from '../b2bua/carrier-registration.js';
import type { UnknownSource } from '../b2bua/unknown-sources.js';
import type { BusEvent, EventBus } from '../core/events.js';
import type { HepCapture } from '../capture/capture.js';
import type { CallTraces, LegResolver } from '../capture/trace.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Counter } from 'prom-client';
import { CALLS_REFUSED } from '../metrics/families.js';
import type { GatewayHealth } from '../trunking/gateway-monitor.js';
import type { QualitySnapshot } from '../trunking/quality.js';
import type { CarrierSetting } from '../trunking/gateway-load.js';
import type { RoutingModule } from '../trunking/routing-hook.js';
import { registerLoadMetrics, registerQualityMetrics, type LoadFigure } from './quality-metrics.js';

/** What the running B2BUA and its helpers offer operations. */
export interface TrunkingSource {
  calls(): LiveCall[];
  hangUp(callSid: string): boolean;
  /** The Call-IDs of a live call's legs (the callee's: its current attempt). */
  callIds(callSid: string): { a: string; b: string | null } | null;
  /** The call and side owning a dialog of ours (Call-ID and our tag). */
  legOwner: LegResolver;
  /** Gateways, whether calls may use them and what their OPTIONS say: unknown until the first answer (all up when nobody pings). */
  gateways(): Array<{ carrier: string; gateway: string; up: boolean; state: GatewayHealth }>;
  /** Registrations kept with carriers. */
  carrierRegistrations(): CarrierRegistrationState[];
  /** `fn` runs after a carrier registration may have changed. */
  onCarrierRegistrationChange(fn: () => void): void;
  /** The last sources refused as unknown (no trunk, carrier or user), newest first. */
  unknownSources?(): UnknownSource[];
  /** Carriers' and gateways' quality figures and demotions (src/trunking/quality.ts). */
  quality?(): QualitySnapshot;
  /** The gateway load settings in force (`routing.carriers`), for route explain. */
  carrierSettings?(): CarrierSetting[];
  /** The routing module in force (`routing.module`), for route explain. */
  routingModule?(): RoutingModule | null;
  /** Calls holding a place in each carrier's and gateway's capacity now. */
  load?(): LoadFigure[];
}

const GATEWAY_STATES: readonly GatewayHealth[] = ['unknown', 'up', 'down'];

/** How long a finished call's Call-IDs stay correlated in HEP (its last BYE/200, retransmissions). */
const UNCORRELATE_MS = 35_000;

export class TrunkingOps {
  readonly #bus: EventBus;
  readonly #capture: HepCapture;
  readonly #traces: CallTraces;
  readonly #src: TrunkingSource;
  readonly #calls: Counter<'trunk' | 'carrier' | 'direction' | 'disposition'>;
  readonly #registered = new Map<string, boolean>();
  /** Call-IDs correlated in HEP per call sid, to uncorrelate after the call. */
  readonly #legs = new Map<string, string[]>();
  #watching = false;
  #hooked = false;

  constructor(src: TrunkingSource, deps: { bus: EventBus; capture: HepCapture; traces: CallTraces; metrics: Metrics }) {
    this.#src = src;
    this.#bus = deps.bus;
    this.#capture = deps.capture;
    this.#traces = deps.traces;
    const m = deps.metrics;
    this.#calls = m.counter(
      'trunkline_calls_total',
      'trunk calls ended, by trunk, carrier, direction and disposition (answered, failed)',
      ['trunk', 'carrier', 'direction', 'disposition'],
    );
    m.gauge(
      'trunkline_calls_active',
      'live trunk calls now, by trunk, account and direction',
      () => {
        const by = new Map<string, [Record<string, string>, number]>();
        for (const c of src.calls()) {
          const k = `${c.trunk}\n${c.account}\n${c.direction}`;
          const e = by.get(k);
          if (e !== undefined) e[1]++;
          else by.set(k, [{ trunk: c.trunk ?? '', account: c.account ?? '', direction: c.direction }, 1]);
        }
        return [...by.values()];
      },
      ['trunk', 'account', 'direction'],
    );
    // The B2BUA counts refusals as b2bua_refused_<status>_<cause>: one labelled view of them.
    m.family(CALLS_REFUSED);
    m.gauge(
      'trunkline_gateway_up',
      'carrier gateways: 1 while they answer OPTIONS, 0 when down (none until the first answer)',
      () =>
        src
          .gateways()
          .filter((g) => g.state !== 'unknown')
          .map((g) => [{ carrier: g.carrier, gateway: g.gateway }, g.state === 'up' ? 1 : 0]),
      ['carrier', 'gateway'],
    );
    m.gauge(
      'trunkline_gateway_state',
      'carrier gateways: 1 for the state each is in (unknown until the first OPTIONS answer, up, down), 0 for the others',
      () =>
        src
          .gateways()
          .flatMap((g) =>
            GATEWAY_STATES.map(
              (state) =>
                [{ carrier: g.carrier, gateway: g.gateway, state }, g.state === state ? 1 : 0] as [
                  Record<string, string>,
                  number,
                ],
            ),
          ),
      ['carrier', 'gateway', 'state'],
    );
    m.gauge(
      'trunkline_carrier_registered',
      'registrations kept with carriers: 1 while registered',
      () => src.carrierRegistrations().map((r) => [{ carrier: r.carrier }, r.registered ? 1 : 0]),
      ['carrier'],
    );
    if (src.quality !== undefined) registerQualityMetrics(m, src.quality);
    if (src.load !== undefined) registerLoadMetrics(m, src.load);
    deps.traces.onCorrelate = (callId, sid) => this.#hep(callId, sid);
    // Subscribed first (before any event stream): a leg is correlated before its event goes out.
    deps.bus.subscribe((e) => this.#onEvent(e));
    // HEP: the callee leg's first INVITE carries the caller leg's Call-ID before any call event.
    deps.capture.setLegResolver((callId, tag) => {
      const owner = src.legOwner(callId, tag);
      return owner === null ? null : this.#hep(callId, owner.callSid);
    });
  }

  /** The call events of the bus: legs correlated as they appear, calls counted as they end. */
  #onEvent(e: BusEvent): void {
    if (e.type === 'call.started') {
      const sid = (e as BusEvent<'call.started'>).data.callSid;
      const ids = this.#src.callIds(sid);
      if (ids !== null) this.#correlate(ids.a, sid, 'a');
    } else if (e.type === 'call.answered') {
      const sid = (e as BusEvent<'call.answered'>).data.callSid;
      const ids = this.#src.callIds(sid);
      if (ids?.b != null) this.#correlate(ids.b, sid, 'b');
    } else if (e.type === 'call.ended') {
      this.#ended((e as BusEvent<'call.ended'>).data);
    }
  }

  #ended(e: BusEvent<'call.ended'>['data']): void {
    this.#calls.inc({
      trunk: e.trunk ?? '',
      carrier: e.carrier ?? '',
      direction: e.direction ?? '',
      disposition: e.disposition,
    });
    const sid = e.callSid;
    const legs = this.#legs.get(sid);
    if (legs === undefined) return;
    // The timer keeps the SID and the legs only, not the ended call's event.
    const t = setTimeout(() => {
      this.#legs.delete(sid);
      for (const callId of legs) this.#capture.uncorrelate(callId);
    }, UNCORRELATE_MS);
    t.unref();
  }

  #correlate(callId: string, sid: string, leg: 'a' | 'b'): void {
    // The trace ring buffer tells the capture (onCorrelate); with traces off, the capture directly.
    if (this.#traces.enabled) this.#traces.correlate(callId, sid, leg);
    else this.#hep(callId, sid);
  }

  /**
   * HEP correlation: a leg of call `sid` carries the caller leg's Call-ID
   * (returned; null when the call is gone). The caller leg carries its own
   * anyway; another leg is mapped to it, and unmapped after the call.
   */
  #hep(callId: string, sid: string): string | null {
    const a = this.#src.callIds(sid)?.a ?? null;
    if (a === null || a === callId) return a;
    const legs = this.#legs.get(sid);
    if (legs === undefined) this.#legs.set(sid, [callId]);
    else if (!legs.includes(callId)) legs.push(callId);
    else return a;
    this.#capture.correlate(callId, a);
    return a;
  }

  /** The gateway monitor's onChange. */
  readonly onGateway = (uri: string, up: boolean): void => {
    for (const g of this.#src.gateways()) {
      if (g.gateway !== uri) continue;
      if (up) this.#bus.publish('gateway.up', { carrier: g.carrier, gateway: uri });
      else this.#bus.publish('gateway.down', { carrier: g.carrier, gateway: uri, reason: 'no answer to OPTIONS' });
    }
  };

  /** Watches carrier registrations (told by their module, no polling) and publishes each change. */
  start(): void {
    this.#checkRegistrations(false);
    this.#watching = true;
    if (this.#hooked) return;
    this.#hooked = true;
    this.#src.onCarrierRegistrationChange(() => {
      if (this.#watching) this.#checkRegistrations(true);
    });
  }

  #checkRegistrations(publish: boolean): void {
    const seen = new Set<string>();
    for (const r of this.#src.carrierRegistrations()) {
      seen.add(r.carrier);
      const was = this.#registered.get(r.carrier);
      this.#registered.set(r.carrier, r.registered);
      if (publish && was !== r.registered && (was !== undefined || r.registered)) {
        this.#bus.publish('carrier.registration', {
          carrier: r.carrier,
          gateway: r.gateway,
          registered: r.registered,
          status: r.lastStatus,
        });
      }
    }
    for (const k of [...this.#registered.keys()]) if (!seen.has(k)) this.#registered.delete(k);
  }

  stop(): void {
    this.#watching = false;
  }
}
