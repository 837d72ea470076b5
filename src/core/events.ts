/**
 * The in-process event bus: modules publish what an operator watches live
 * (registrations, calls, refused sources, gateway states, carrier
 * registrations), the API streams it to dashboards (GET /api/v1/events,
 * SSE) and the operations side turns calls into metrics and HEP correlation
 * (src/api/trunking-ops.ts).
 *
 * Publishing costs one branch when nobody listens: `publish` returns at once
 * without subscribers, and a publisher may check `bus.active` before it
 * builds an event. A subscriber that throws is logged and kept away from the
 * publisher; events are delivered synchronously, in order.
 *
 * Adding an event type: add its name and payload to `EventPayloads`.
 */

export interface EventPayloads {
  /** A REGISTER changed an AOR's bindings (RFC 3261 10.3); `contacts` are the live ones after it. */
  registration: { aor: string; contacts: string[]; source: string };
  'call.started': {
    callSid: string;
    trunk?: string;
    account?: string;
    from?: string;
    to?: string;
    direction?: string;
    carrier?: string;
  };
  'call.answered': { callSid: string };
  /** `trunk`, `carrier` and `direction` as in the call's CDR (the metrics count calls by them). */
  'call.ended': {
    callSid: string;
    disposition: string;
    durationMs?: number;
    status?: number;
    reason?: string;
    hangupBy?: string;
    direction?: string;
    trunk?: string;
    carrier?: string;
    gateway?: string;
    /** Post-dial delay (ms) and Q.850 cause as in the CDR. */
    pddMs?: number;
    q850?: number;
    mos?: number;
  };
  /**
   * One attempt toward a carrier gateway ended (src/trunking/quality.ts
   * judges carriers by them): a failed one when it fails, the answered one
   * when its call ends (with its duration and MOS).
   */
  'call.attempt': {
    callSid: string;
    carrier: string;
    gateway: string;
    status: number;
    pddMs?: number;
    durationMs?: number;
    mos?: number;
  };
  ban: { ip: string; reason: string; untilMs?: number; lifted?: boolean };
  'gateway.up': { carrier: string; gateway: string };
  'gateway.down': { carrier: string; gateway: string; reason?: string };
  /** A registration Trunkline keeps with a carrier was granted or lost. */
  'carrier.registration': { carrier: string; gateway: string; registered: boolean; status: number | null };
  /** A request from no trunk, carrier or user was refused (once per source per minute, as its log line). */
  'source.refused': { source: string; method: string; status: number; reason: string };
}

export type EventType = keyof EventPayloads;

export const EVENT_TYPES: readonly EventType[] = [
  'registration',
  'call.started',
  'call.answered',
  'call.ended',
  'call.attempt',
  'ban',
  'gateway.up',
  'gateway.down',
  'carrier.registration',
  'source.refused',
];

export interface BusEvent<T extends EventType = EventType> {
  /** Increasing per process, from 1 (the SSE `id:`). */
  id: number;
  type: T;
  /** Milliseconds since the epoch. */
  time: number;
  data: EventPayloads[T];
}

export type EventListener = (e: BusEvent) => void;

export interface EventBusLog {
  warn(obj: object, msg: string): void;
}

export class EventBus {
  readonly #listeners = new Set<EventListener>();
  readonly #log: EventBusLog | null;
  #nextId = 1;

  constructor(log?: EventBusLog) {
    this.#log = log ?? null;
  }

  /** Whether anyone listens (a publisher can skip building an event). */
  get active(): boolean {
    return this.#listeners.size > 0;
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }

  publish<T extends EventType>(type: T, data: EventPayloads[T]): void {
    if (this.#listeners.size === 0) return;
    const e: BusEvent<T> = { id: this.#nextId++, type, time: Date.now(), data };
    for (const l of this.#listeners) {
      try {
        l(e as BusEvent);
      } catch (err) {
        this.#log?.warn({ type, err: String(err) }, 'event listener threw');
      }
    }
  }

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }
}
