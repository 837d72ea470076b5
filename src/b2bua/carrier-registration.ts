import { isSipUri, tryParseUri } from '../sip/uri.js';
import { parsedOrNull } from '../sip/errors.js';
import type { SipMessage } from '../sip/message.js';
import type { Carrier } from '../trunking/model.js';
import type { B2buaEnv } from './env.js';
import { uacRequest } from '../dialog/uac-request.js';
import { newCallId, newTagValue } from '../dialog/sid.js';
import { answerChallenge } from './uac-auth.js';

/** What we ask the carrier for; it may grant less (RFC 3261 10.2.1). */
const REQUESTED_EXPIRES = 3600;
/** Refresh this long before the binding expires, at the latest at half its life. */
const REFRESH_MARGIN_S = 60;
/** After a failure (timeout, refusal), try again after this. */
const RETRY_S = 30;
/** A REGISTER held back because the lease could not be confirmed: look again after this. */
const FENCED_RETRY_S = 1;
/** At stop, how long the un-REGISTERs' answers are waited for before the leases are released. */
const UNREGISTER_WAIT_MS = 2000;

/**
 * Who may keep a carrier's registration. Absent (a node alone): this node,
 * always. In a cluster, src/cluster/lease-set.ts: the node holding the
 * carrier's lease, one at a time.
 */
export interface RegistrationGate {
  /** The carriers registrations are wanted with (each sync). */
  want(carriers: Iterable<string>): void;
  /** Whether this node may register now; checked before each REGISTER. */
  holds(carrier: string): boolean;
  /** This node took a carrier (true: register now) or gave it up (false: stop at once). */
  onChange(fn: (carrier: string, held: boolean) => void): void;
  /** Gives every carrier up (after the un-REGISTERs). */
  stop(): Promise<void>;
}

export interface CarrierRegistrationState {
  carrier: string;
  gateway: string;
  registered: boolean;
  /** Seconds granted by the last 200, 0 before one. */
  expires: number;
  lastStatus: number | null;
  lastChange: number | null;
}

interface Entry {
  carrier: Carrier;
  gateway: string;
  callId: string;
  tag: string;
  cseq: number;
  timer: NodeJS.Timeout | null;
  state: CarrierRegistrationState;
  /** Bumped when the carrier changes or is removed: answers of an older round are dropped. */
  round: number;
}

/**
 * Registrations Trunkline keeps with carriers (`carrier add --register`):
 * a REGISTER (RFC 3261 10.2) to the carrier's first gateway for
 * username@gateway-host with our Contact, the carrier's 401/407 answered
 * with its credentials, refreshed before it expires, retried after a
 * failure. One Call-ID per carrier, CSeq increasing (10.2.4). The carrier's
 * calls then come to our Contact (its user is the username) with the DID in
 * To; the trunking stage reads it there.
 */
export class CarrierRegistrations {
  private readonly entries = new Map<string, Entry>();
  private readonly changeCbs: (() => void)[] = [];
  private stopped = false;

  constructor(
    private readonly env: B2buaEnv,
    private readonly gate: RegistrationGate | null = null,
  ) {
    gate?.onChange((name, held) => this.leaseChanged(name, held));
  }

  /** Called after a registration may have changed (registered or not, kept by this node or not): watchers need no polling. */
  onChange(fn: () => void): void {
    this.changeCbs.push(fn);
  }

  private changed(): void {
    for (const fn of this.changeCbs) fn();
  }

  /** Brings the registrations in line with the carriers (called at start and on every directory reload). */
  sync(carriers: Iterable<Carrier>): void {
    if (this.stopped) return;
    const wanted = new Map<string, Carrier>();
    for (const c of carriers)
      if (c.register && c.username !== null && c.password !== null && c.gateways.length > 0) wanted.set(c.name, c);
    for (const [name, e] of this.entries) {
      const c = wanted.get(name);
      if (
        c === undefined ||
        c.gateways[0] !== e.gateway ||
        c.username !== e.carrier.username ||
        c.password !== e.carrier.password
      ) {
        this.drop(e);
        this.entries.delete(name);
      }
    }
    for (const [name, c] of wanted) {
      if (this.entries.has(name)) {
        this.entries.get(name)!.carrier = c;
        continue;
      }
      const e: Entry = {
        carrier: c,
        gateway: c.gateways[0]!,
        callId: newCallId(),
        tag: newTagValue(),
        cseq: 0,
        timer: null,
        round: 0,
        state: {
          carrier: name,
          gateway: c.gateways[0]!,
          registered: false,
          expires: 0,
          lastStatus: null,
          lastChange: null,
        },
      };
      this.entries.set(name, e);
      if (this.mayRegister(name)) void this.register(e, REQUESTED_EXPIRES, null);
    }
    this.gate?.want(wanted.keys());
    this.changed();
  }

  /** The registrations this node keeps (in a cluster: the carriers whose lease it holds). */
  list(): CarrierRegistrationState[] {
    return [...this.entries.values()]
      .filter((e) => this.mayRegister(e.carrier.name) || e.state.registered)
      .map((e) => ({ ...e.state }));
  }

  /**
   * Ends every registration (Expires: 0) and stops refreshing. In a
   * cluster, the un-REGISTERs' answers are awaited (UNREGISTER_WAIT_MS at
   * most) before the leases are released, so the next node registers after.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    const ends = [...this.entries.values()].map((e) => this.drop(e));
    this.entries.clear();
    if (this.gate === null) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(ends), new Promise<void>((r) => (timer = setTimeout(r, UNREGISTER_WAIT_MS)))]);
    clearTimeout(timer);
    await this.gate.stop();
  }

  private mayRegister(carrier: string): boolean {
    return this.gate === null || this.gate.holds(carrier);
  }

  /** Un-REGISTERs only a registration this node still holds (another node's Contact is not ours to end). */
  private drop(e: Entry): Promise<void> {
    e.round++;
    if (e.timer !== null) clearTimeout(e.timer);
    e.timer = null;
    return e.state.registered && this.mayRegister(e.carrier.name) ? this.register(e, 0, null) : Promise.resolve();
  }

  /** The gate's news: register at once when this node took the carrier; stop refreshing at once when it gave it up. */
  private leaseChanged(name: string, held: boolean): void {
    const e = this.entries.get(name);
    if (e === undefined || this.stopped) return;
    e.round++;
    if (e.timer !== null) clearTimeout(e.timer);
    e.timer = null;
    if (held) {
      void this.register(e, REQUESTED_EXPIRES, null);
      return;
    }
    if (!e.state.registered) return;
    // No un-REGISTER: the binding runs out at the carrier (our Contact is this node's own).
    e.state.registered = false;
    e.state.lastChange = Date.now();
    this.env.log.warn({ carrier: name, gateway: e.gateway }, 'carrier registration left to another node');
    this.changed();
  }

  private schedule(e: Entry, seconds: number): void {
    if (e.timer !== null) clearTimeout(e.timer);
    e.timer = setTimeout(() => {
      e.timer = null;
      void this.register(e, REQUESTED_EXPIRES, null);
    }, seconds * 1000);
    e.timer.unref();
  }

  /** Sends one REGISTER (and its answer to a challenge); resolves once that ended, however. */
  private register(e: Entry, expires: number, challenge: SipMessage | null): Promise<void> {
    const gw = tryParseUri(e.gateway);
    if (gw === null || !isSipUri(gw)) return Promise.resolve();
    const round = e.round;
    const hostPort = `${gw.host}${gw.port === null ? '' : `:${gw.port}`}`;
    const ruri = `sip:${hostPort}`;
    const user = e.carrier.username!;
    return this.env
      .locate(gw)
      .then(async (targets) => {
        await this.env.interfaces.prepare(targets.slice(0, 1));
        const t = targets[0];
        const iface = t === undefined ? null : this.env.interfaces.forProto(t.proto, t.host);
        if (t === undefined || iface === null) {
          this.failed(e, round, 503);
          return;
        }
        e.cseq++;
        const transport = t.proto === 'udp' ? '' : `;transport=${t.proto}`;
        const headers: Array<[string, string]> = [['Expires', String(expires)]];
        if (challenge !== null) {
          const answer = answerChallenge(challenge, 'REGISTER', ruri, {
            username: user,
            password: e.carrier.password!,
          });
          if (answer === null) {
            this.failed(e, round, challenge.status);
            return;
          }
          headers.push(answer);
        }
        if (this.env.agentName !== null) headers.push(['User-Agent', this.env.agentName]);
        // Fencing: a node whose lease may have run out (cut off from Redis, paused) sends nothing.
        if (expires > 0 && !this.mayRegister(e.carrier.name)) {
          if (e.round === round && !this.stopped) this.schedule(e, FENCED_RETRY_S);
          return;
        }
        const req = uacRequest({
          method: 'REGISTER',
          uri: ruri,
          iface,
          from: `<sip:${user}@${gw.host}>`,
          fromTag: e.tag,
          to: `<sip:${user}@${gw.host}>`,
          callId: e.callId,
          cseq: e.cseq,
          contact: `<sip:${user}@${iface.host}:${iface.port}${transport}>`,
          headers,
        });
        this.env.counters.inc('carrier_registers_sent');
        await new Promise<void>((done) =>
          this.env.layer.sendRequest(req, t, {
            onFinal: (res) => {
              if (e.round !== round) return done();
              if ((res.status === 401 || res.status === 407) && challenge === null) {
                void this.register(e, expires, res).then(done);
                return;
              }
              if (res.status >= 200 && res.status < 300) {
                if (expires > 0) this.succeeded(e, grantedExpires(res, expires));
                return done();
              }
              this.failed(e, round, res.status);
              done();
            },
            onTimeout: () => {
              this.failed(e, round, 408);
              done();
            },
            onTransportError: () => {
              this.failed(e, round, 503);
              done();
            },
          }),
        );
      })
      .catch(() => this.failed(e, round, 503));
  }

  private succeeded(e: Entry, granted: number): void {
    if (!e.state.registered) {
      e.state.lastChange = Date.now();
      this.env.log.info({ carrier: e.carrier.name, gateway: e.gateway, expires: granted }, 'registered with carrier');
    }
    e.state.registered = true;
    e.state.expires = granted;
    e.state.lastStatus = 200;
    this.schedule(e, Math.max(1, Math.min(granted - REFRESH_MARGIN_S, Math.ceil(granted / 2))));
    this.changed();
  }

  private failed(e: Entry, round: number, status: number): void {
    if (e.round !== round || this.stopped) return;
    if (e.state.registered) {
      e.state.lastChange = Date.now();
      this.env.log.warn({ carrier: e.carrier.name, gateway: e.gateway, status }, 'carrier registration lost');
    } else {
      this.env.log.warn({ carrier: e.carrier.name, gateway: e.gateway, status }, 'carrier registration failed');
    }
    e.state.registered = false;
    e.state.lastStatus = status;
    this.env.counters.inc('carrier_registration_failures');
    this.schedule(e, RETRY_S);
    this.changed();
  }
}

/** The expiry the registrar granted: our Contact's expires parameter, else Expires, else what we asked. */
function grantedExpires(res: SipMessage, asked: number): number {
  // A Contact we cannot read: fall back to Expires.
  for (const c of parsedOrNull(() => res.contacts) ?? []) {
    const v = c.params.get('expires');
    if (v !== undefined && v !== null && /^[0-9]+$/.test(v)) return Number(v);
  }
  const e = res.expires;
  return e === null ? asked : e;
}
