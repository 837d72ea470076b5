/**
 * Carrier gateway health by SIP OPTIONS (Kamailio dispatcher's probing):
 * every gateway is pinged each interval; it is marked down only after
 * `downAfter` failed pings in a row (timeout, transport error, port
 * unreachable, 5xx) and up again only after `upAfter` good answers in a
 * row, so one lost packet never flaps a gateway. Any other final answer
 * (2xx-4xx, 6xx) means the gateway is alive.
 *
 * A gateway starts `unknown` (after a start, or when a carrier gets it) and
 * is pinged at once; its first answer decides (there is no streak to
 * protect yet), so a dead gateway is `down` after one ping, not after
 * `downAfter` intervals. Calls try unknown gateways (isUp is true for them)
 * and rely on fast failover meanwhile.
 */

export type PingResult = 'ok' | 'fail';
export type GatewayHealth = 'unknown' | 'up' | 'down';

export interface GatewayMonitorOptions {
  intervalMs: number;
  downAfter: number;
  upAfter: number;
  /** The gateway URIs to watch now (read at every round: carriers edited live). */
  gateways: () => string[];
  /** Sends one OPTIONS to a gateway; calls back once with its outcome. */
  ping: (uri: string, done: (result: PingResult) => void) => void;
  /** A gateway went up or down (from unknown too). */
  onChange?: (uri: string, up: boolean) => void;
}

export interface GatewayState {
  uri: string;
  state: GatewayHealth;
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

  /** Whether calls may use the gateway: up, or not known yet (and not monitored at all). */
  isUp(uri: string): boolean {
    return this.states.get(uri)?.state !== 'down';
  }

  /** up, down, or unknown (not answered yet, or not watched). */
  health(uri: string): GatewayHealth {
    return this.states.get(uri)?.state ?? 'unknown';
  }

  list(): GatewayState[] {
    return [...this.states.values()].map(({ inFlight: _f, ...s }) => s);
  }

  /** Gateways the carriers have now and the monitor does not know yet are pinged at once (after a reload). */
  sync(): void {
    this.round(true);
  }

  /** One round: ping every gateway not still waiting for its last answer (only new ones with `onlyNew`); forget removed ones. */
  round(onlyNew = false): void {
    const current = new Set(this.opts.gateways());
    for (const uri of this.states.keys()) if (!current.has(uri)) this.states.delete(uri);
    for (const uri of current) {
      let st = this.states.get(uri);
      if (st === undefined) {
        st = { uri, state: 'unknown', streak: 0, lastResult: null, lastChange: null, inFlight: false };
        this.states.set(uri, st);
      } else if (onlyNew) continue;
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
    if (s.state === 'unknown') {
      this.change(s, result === 'ok' ? 'up' : 'down');
      return;
    }
    // While up, count failures in a row; while down, successes in a row.
    const up = s.state === 'up';
    const against = up ? result === 'fail' : result === 'ok';
    s.streak = against ? s.streak + 1 : 0;
    if (s.streak >= (up ? this.opts.downAfter : this.opts.upAfter)) this.change(s, up ? 'down' : 'up');
  }

  private change(s: GatewayState, to: 'up' | 'down'): void {
    s.state = to;
    s.streak = 0;
    s.lastChange = Date.now();
    this.opts.onChange?.(s.uri, to === 'up');
  }
}
