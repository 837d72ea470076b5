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
  private stopped = false;

  constructor(private readonly env: B2buaEnv) {}

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
      this.register(e, REQUESTED_EXPIRES, null);
    }
  }

  list(): CarrierRegistrationState[] {
    return [...this.entries.values()].map((e) => ({ ...e.state }));
  }

  /** Ends every registration (Expires: 0) and stops refreshing. */
  stop(): void {
    this.stopped = true;
    for (const e of this.entries.values()) this.drop(e);
    this.entries.clear();
  }

  private drop(e: Entry): void {
    e.round++;
    if (e.timer !== null) clearTimeout(e.timer);
    e.timer = null;
    if (e.state.registered) this.register(e, 0, null);
  }

  private schedule(e: Entry, seconds: number): void {
    if (e.timer !== null) clearTimeout(e.timer);
    e.timer = setTimeout(() => {
      e.timer = null;
      this.register(e, REQUESTED_EXPIRES, null);
    }, seconds * 1000);
    e.timer.unref();
  }

  private register(e: Entry, expires: number, challenge: SipMessage | null): void {
    const gw = tryParseUri(e.gateway);
    if (gw === null || !isSipUri(gw)) return;
    const round = e.round;
    const hostPort = `${gw.host}${gw.port === null ? '' : `:${gw.port}`}`;
    const ruri = `sip:${hostPort}`;
    const user = e.carrier.username!;
    this.env
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
        this.env.layer.sendRequest(req, t, {
          onFinal: (res) => {
            if (e.round !== round) return;
            if ((res.status === 401 || res.status === 407) && challenge === null) {
              this.register(e, expires, res);
              return;
            }
            if (res.status >= 200 && res.status < 300) {
              if (expires === 0) return;
              const granted = grantedExpires(res, expires);
              this.succeeded(e, granted);
              return;
            }
            this.failed(e, round, res.status);
          },
          onTimeout: () => this.failed(e, round, 408),
          onTransportError: () => this.failed(e, round, 503),
        });
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
