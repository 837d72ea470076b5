/**
 * Steps 1 and 2, before a message is parsed (the ingress calls `admit()`
 * first): a banned source is dropped, counted, never answered; then a
 * request (not a response) counts towards its source's flood density, and
 * the request that crosses it bans the source at once (this request
 * included). Nothing here reads more than the first four bytes. A
 * banned source's stream connection (TCP, TLS, WS) is closed: keeping it
 * open would only let it go on sending.
 */
import type { InboundMessage } from '../transport/types.js';
import type { Counters } from '../core/counters.js';
import type { BanList } from './ban-list.js';
import { looksLikeResponse, type FloodDetector } from './flood.js';

export class SecurityGate {
  constructor(
    private readonly bans: BanList | null,
    private readonly flood: FloodDetector | null,
    private readonly counters: Counters,
    /** Called when a source crosses the flood density (the service bans it). */
    private readonly onFlood: (ip: string) => void,
    /** Closes a stream connection (the transport's closeConnection). */
    private readonly closeConnection: ((id: number) => void) | null = null,
  ) {}

  admit(m: InboundMessage): boolean {
    const ip = m.flow.remoteHost;
    if (this.bans !== null && this.bans.isBanned(ip)) {
      this.counters.inc('security_banned_dropped');
      this.close(m);
      return false;
    }
    if (this.flood !== null && !looksLikeResponse(m.data) && this.flood.hit(ip)) {
      this.counters.inc('security_flood_bans');
      this.onFlood(ip);
      this.counters.inc('security_banned_dropped');
      this.close(m);
      return false;
    }
    return true;
  }

  private close(m: InboundMessage): void {
    const id = m.flow.connectionId;
    if (id === null || this.closeConnection === null) return;
    this.counters.inc('security_banned_connections_closed');
    this.closeConnection(id);
  }

  /** A source under a ban (for framing errors: no answer either). */
  banned(ip: string): boolean {
    return this.bans !== null && this.bans.isBanned(ip);
  }
}
