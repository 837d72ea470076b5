/**
 * Typed errors of the media engines. The B2BUA answers a MediaError with its
 * `sipStatus` and a Warning header built by `warningHeader()` (RFC 3261
 * 20.43: warn-code, warn-agent, "text"). Messages never carry key material.
 */

/** RFC 3261 20.43 warn-codes used here. */
export const WARN = {
  /** 301 Incompatible network protocol. */
  network: 301,
  /** 302 Incompatible network address formats. */
  address: 302,
  /** 303 Incompatible transport protocol (profile). */
  transport: 303,
  /** 305 Incompatible media format (codecs). */
  format: 305,
  /** 306 Attribute not understood (crypto). */
  attribute: 306,
  /** 399 Miscellaneous warning. */
  misc: 399,
} as const;

export class MediaError extends Error {
  override readonly name = 'MediaError';
  constructor(
    /** SIP status to answer with: 488 (not acceptable here), 500 (internal), 503 (engine unavailable). */
    readonly sipStatus: number,
    /** RFC 3261 warn-code. */
    readonly warnCode: number,
    /** Warning text (no quotes, no key material). */
    readonly warning: string,
  ) {
    super(`media: ${warning}`);
  }

  /** The Warning header value, e.g. `305 trunkline "no common codec"`. */
  warningHeader(agent = 'trunkline'): string {
    return `${this.warnCode} ${agent} "${this.warning.replace(/["\\\r\n]/g, ' ')}"`;
  }
}

export const notAcceptable = (warnCode: number, text: string): MediaError => new MediaError(488, warnCode, text);
