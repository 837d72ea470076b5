import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The URI parameter of a Route to the cluster node that holds a binding's
 * flow: `sip:host:port;transport=tcp;lr;tl-flow=TOKEN` (src/registrar/cluster-flows.ts).
 */
export const FLOW_PARAM = 'tl-flow';
/** Bytes of HMAC-SHA256 kept (96 bits): 16 characters of base64url. */
const MAC_BYTES = 12;
const MAC_CHARS = 16;
/** A token is made for the minute it is made in; it verifies within this many minutes either side. */
const WINDOW_MS = 60_000;
const SLACK = 1;

/**
 * Flow tokens, as RFC 5626 5.2 has an edge proxy make them: the node that
 * looks up a binding another node holds routes the request through that
 * node with a token naming the binding; the holder delivers on the flow
 * only when the token verifies. A token is `<binding id>.<minute>.<mac>`,
 * the mac a keyed hash (the cluster's shared key) of the id, the holder's
 * incarnation (a token dies with the run it was made for) and the minute
 * (it is good for a minute or two). Anything else verifies to null.
 */
export class FlowTokens {
  constructor(private readonly key: Buffer) {
    if (key.length < 16) throw new RangeError('flow token key: expected at least 16 bytes');
  }

  /** The token for binding `id` held by the run `incarnation`. */
  make(id: number, incarnation: string, now = Date.now()): string {
    const minute = Math.floor(now / WINDOW_MS);
    return `${id}.${minute}.${this.mac(id, incarnation, minute).toString('base64url')}`;
  }

  /** The binding id of a token made for `incarnation` within the last minutes, else null. */
  verify(token: string, incarnation: string, now = Date.now()): number | null {
    const m = /^(\d{1,15})\.(\d{1,12})\.([A-Za-z0-9_-]+)$/.exec(token);
    if (m === null || m[3]!.length !== MAC_CHARS) return null;
    const id = Number(m[1]);
    const minute = Number(m[2]);
    const current = Math.floor(now / WINDOW_MS);
    if (Math.abs(minute - current) > SLACK) return null;
    const given = Buffer.from(m[3]!, 'base64url');
    if (given.length !== MAC_BYTES) return null;
    return timingSafeEqual(given, this.mac(id, incarnation, minute)) ? id : null;
  }

  private mac(id: number, incarnation: string, minute: number): Buffer {
    return createHmac('sha256', this.key).update(`${id}\n${incarnation}\n${minute}`).digest().subarray(0, MAC_BYTES);
  }
}
