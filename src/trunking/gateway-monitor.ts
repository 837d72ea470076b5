/**
 * Carrier gateway health by SIP OPTIONS (Kamailio dispatcher's probing):
 * every gateway is pinged each interval; it is marked down only after
 * `downAfter` failed pings in a row (timeout, transport error, 5xx) and up
 * again only after `upAfter` good answers in a row, so one lost packet
 * never flaps a gateway. Any other final answer (2xx-4xx, 6xx) means the
 * gateway is alive. Unknown gateways count as up.
 */

export type PingResult = 'ok' | 'fail';

export interface GatewayMonitorOptions {
  intervalMs: number;
  downAfter: number;
  upAfter: number;
  /** The gateway URIs to watch now (read at every round: carriers edited live). */
  gateways: () => string[];
  /** Sends one OPTIONS to a gateway; calls back once with its outcome. */
  ping: (uri: string, done: (result: PingResult) => void) => void;
  onChange?: (uri: string, up: boolean) => void;
}

export interface GatewayState {
  uri: string;
  up: boolean;
  /** Failures in a row (while up) or successes in a row (while down). */
  streak: number;
  lastResult: PingResult | null;
  lastChange: number | null;
}

export class GatewayMonitor {
  private readonly states = new Map<string, GatewayState & { inFlight: boolean }>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: GatewayMonitorOptions) {}

  start(): void {
    if (this.timer !== null) return;
    this.round();
    this.timer = setInterval(() => this.round(), this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  isUp(uri: string): boolean {
    return this.states.get(uri)?.up ?? true;
  }

  list(): GatewayState[] {
    return [...this.states.values()].map(({ inFlight: _f, ...s }) => s);
  }

  /** One round: ping every gateway not still waiting for its last answer; forget removed ones. */
  round(): void {
    const current = new Set(this.opts.gateways());
    for (const uri of this.states.keys()) if (!current.has(uri)) this.states.delete(uri);
    for (const uri of current) {
      let st = this.states.get(uri);
      if (st === undefined) {
        st = { uri, up: true, streak: 0, lastResult: null, lastChange: null, inFlight: false };
        this.states.set(uri, st);
      }
      if (st.inFlight) continue;
      st.inFlight = true;
      const s = st;
      this.opts.ping(uri, (result) => {
        s.inFlight = false;
        if (this.states.get(uri) !== s) return;
        this.record(s, result);
      });
    }
  }

  private record(s: GatewayState, result: PingResult): void {
    s.lastResult = result;
    // While up, count failures in a row; while down, successes in a row.
    const against = s.up ? result === 'fail' : result === 'ok';
    s.streak = against ? s.streak + 1 : 0;
    const threshold = s.up ? this.opts.downAfter : this.opts.upAfter;
    if (s.streak >= threshold) {
      s.up = !s.up;
      s.streak = 0;
      s.lastChange = Date.now();
      this.opts.onChange?.(s.uri, s.up);
    }
  }
}
