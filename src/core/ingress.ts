import { parseMessage, type ParseLimits } from '../sip/parser.js';
import { validateMessage } from '../sip/validate.js';
import type { SipMessage } from '../sip/message.js';
import { SipLimitError, type SipSyntaxError } from '../sip/errors.js';
import type { InboundMessage, Flow, TransportProto } from '../transport/types.js';
import { stampReceived } from './received.js';
import type { Counters } from './counters.js';
import { LogThrottle } from './log-throttle.js';
import type { Responder } from './responder.js';

const BYTES_IN: Record<TransportProto, string> = {
  udp: 'sip_in_bytes_udp',
  tcp: 'sip_in_bytes_tcp',
  tls: 'sip_in_bytes_tls',
  ws: 'sip_in_bytes_ws',
  wss: 'sip_in_bytes_wss',
};

export interface IngressLog {
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/**
 * Runs before anything is parsed (src/security/gate.ts: bans, flood): false
 * drops the message, unanswered. `banned` also silences framing errors.
 */
export interface IngressGate {
  admit(m: InboundMessage): boolean;
  banned(ip: string): boolean;
}

/**
 * The security edge as the ingress hands messages to it (src/security/service.ts):
 * `gate` before parsing (read per message: a reload replaces it; null when
 * bans and flood are off), `admit` after (steps 3-8: false when the request
 * was answered or dropped there).
 */
export interface IngressSecurity {
  readonly gate: IngressGate | null;
  admit(req: SipMessage, flow: Flow): boolean;
}

/** What the layers above receive (the transaction layer): a parsed, validated, admitted message and where it came from. */
export interface IngressHandlers {
  onRequest(req: SipMessage, flow: Flow): void;
  onResponse(res: SipMessage, flow: Flow): void;
}

/**
 * The door of the signalling core: bytes from a transport become a parsed,
 * validated message, or a clear refusal. A request that cannot be parsed or
 * fails validation is answered with its status (400, 505, 513...) naming the
 * fault when enough of it was read to address a response; a broken response
 * is dropped (RFC 3261 18.1.2). Either way: one counter, and one log line
 * per source and fault per minute at most.
 *
 * The ingress owns the hand-off to the security edge: its gate sees the
 * bytes first, its pipeline every parsed request before the layer above.
 */
export class Ingress {
  private readonly throttle = new LogThrottle();

  constructor(
    private readonly limits: ParseLimits,
    private readonly responder: Responder,
    private readonly counters: Counters,
    private readonly log: IngressLog,
    private readonly handlers: IngressHandlers,
    /** Null: no security edge (benches, tests of the core alone). */
    private readonly security: IngressSecurity | null = null,
  ) {}

  handle(m: InboundMessage): void {
    const gate = this.security?.gate ?? null;
    if (gate !== null && !gate.admit(m)) return;
    this.counters.inc(BYTES_IN[m.flow.proto], m.data.length);
    const parsed = parseMessage(m.data, this.limits);
    if (!parsed.ok) {
      this.reject(parsed.error, parsed.message, m.flow);
      return;
    }
    const msg = parsed.message;
    const fault = validateMessage(msg);
    if (fault !== null) {
      this.reject(fault, msg, m.flow);
      return;
    }
    if (msg.isRequest) {
      this.counters.inc('sip_requests_in');
      stampReceived(msg, m.flow);
      if (this.security !== null && !this.security.admit(msg, m.flow)) return;
      this.handlers.onRequest(msg, m.flow);
    } else {
      this.counters.inc('sip_responses_in');
      this.handlers.onResponse(msg, m.flow);
    }
  }

  /**
   * A stream message that broke a framing limit (too large, bad Content-Length).
   * When its header section was read, the request still gets its 413/400/513
   * before the transport closes the connection.
   */
  handleFramingError(e: { flow: Flow; reason: string; status: number; headerText: string | null }): void {
    const gate = this.security?.gate ?? null;
    if (gate !== null && gate.banned(e.flow.remoteHost)) return;
    this.counters.inc('sip_framing_errors');
    let msg: SipMessage | null = null;
    if (e.headerText !== null) {
      const text = e.headerText.endsWith('\r\n\r\n') ? e.headerText : `${e.headerText.replace(/\r\n$/, '')}\r\n\r\n`;
      msg = parseMessage(Buffer.from(text, 'utf8'), this.limits).message;
    }
    this.reject(new SipLimitError('message', e.reason, e.status), msg, e.flow);
  }

  private reject(error: SipSyntaxError, msg: SipMessage | null, flow: Flow): void {
    this.counters.inc('sip_parse_errors');
    const source = `${flow.proto}:${flow.remoteHost}:${flow.remotePort}`;
    const held = this.throttle.admit(`${flow.remoteHost}|${error.field}`);
    if (held >= 0) {
      this.log.warn(
        { source, field: error.field, reason: error.message, status: error.status, suppressedBefore: held },
        'malformed SIP message',
      );
    }
    if (msg === null || !msg.isRequest || msg.method === 'ACK') {
      this.counters.inc('sip_malformed_dropped');
      return;
    }
    // A response needs the headers it copies; without a usable Via there is nowhere to send it.
    if (!this.responder.replyToMalformed(msg, flow, error.status, error.reasonPhrase)) {
      this.counters.inc('sip_malformed_dropped');
    }
  }
}
