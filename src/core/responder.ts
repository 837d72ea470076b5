import type { SipMessage } from '../sip/message.js';
import { createResponse, type ResponseOptions } from '../sip/response.js';
import { serialize } from '../sip/serializer.js';
import type { Flow } from '../transport/types.js';
import { statusClassLabel, type Counters } from './counters.js';

/** The part of the transport layer the responder needs. */
export interface ResponseSender {
  send(flow: Flow, data: Buffer): boolean;
}

/**
 * Sends responses the core makes itself (stateless answers now, transaction
 * answers later) back where the request came from: on its connection for
 * streams, and over UDP to its source address and port. That is RFC 3581
 * symmetric response routing applied to every client, whether or not it sent
 * rport, as an edge facing NATed PBXs must (Kamailio's force_rport); the
 * sent-by port of RFC 3261 18.2.2 is behind the NAT and unreachable.
 */
export class Responder {
  constructor(
    private readonly transport: ResponseSender,
    private readonly counters: Counters,
    private readonly serverHeader: string | null,
  ) {}

  /** Builds and sends a response to req; returns whether it went out. */
  reply(req: SipMessage, flow: Flow, status: number, opts: ResponseOptions = {}): boolean {
    const headers = opts.headers ? [...opts.headers] : [];
    if (this.serverHeader !== null) headers.push(['Server', this.serverHeader]);
    const res = createResponse(req, status, { ...opts, headers });
    return this.sendResponse(res, flow);
  }

  /** Sends an already built response to the request's origin. */
  sendResponse(res: SipMessage, flow: Flow): boolean {
    const ok = this.transport.send(flow, serialize(res));
    this.counters.inc(ok ? `sip_responses_out_${statusClassLabel(res.status)}` : 'sip_responses_unsendable');
    return ok;
  }

  /** Answers a request that failed parsing or validation, when it can be addressed. */
  replyToMalformed(req: SipMessage, flow: Flow, status: number, reason: string): boolean {
    // A client matches a response by its top Via branch (RFC 3261 17.1.3): without Via nobody can.
    // Missing From/To/Call-ID are simply not copied (RFC 4475 3.3.1 insuf still gets its 400).
    if (!req.has('Via')) return false;
    return this.reply(req, flow, status, { reason });
  }
}
