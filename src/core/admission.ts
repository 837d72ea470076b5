/**
 * Whether the server takes new calls. `open` while it runs; `draining`
 * once `trunkline drain` (or POST /api/v1/drain) asked it to stop taking
 * calls and let those up end by themselves; `stopping` from SIGTERM on.
 * While not open, a request that would start a dialog and an OPTIONS to
 * the server itself are answered 503 with Retry-After (RFC 3261 21.5.4:
 * the client tries another server, or this one after that many seconds),
 * so carriers and load balancers move away; requests inside dialogs and
 * REGISTERs go on.
 */
export type AdmissionState = 'open' | 'draining' | 'stopping';

/** Retry-After of the 503s of a draining or stopping server, seconds: long enough for a restart. */
export const RETRY_AFTER_S = 30;

export class Admission {
  #state: AdmissionState = 'open';

  get state(): AdmissionState {
    return this.#state;
  }

  get open(): boolean {
    return this.#state === 'open';
  }

  /** Stop taking new calls (no way back: a drained server exits). */
  drain(): void {
    if (this.#state === 'open') this.#state = 'draining';
  }

  stop(): void {
    this.#state = 'stopping';
  }

  /** The answer to a request refused while not open: 503 with Retry-After, its reason saying why. */
  refusal(): { status: 503; reason: string; headers: Array<[string, string]> } {
    return {
      status: 503,
      reason: this.#state === 'stopping' ? 'Server Shutting Down' : 'Server Draining',
      headers: [['Retry-After', String(RETRY_AFTER_S)]],
    };
  }
}
