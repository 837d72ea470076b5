/**
 * Typed errors of the SIP message layer. A malformed message is never a crash:
 * the parser and the lazy header accessors throw SipSyntaxError, the transport
 * edge turns it into a 400 (requests) or a drop (responses), one log line and
 * a counter.
 */

/** A message or header value that does not follow the RFC 3261 grammar. */
export class SipSyntaxError extends Error {
  override readonly name = 'SipSyntaxError';
  /** Status a UAS/proxy should answer with (400, 413, 513, 416...). */
  readonly status: number;
  /** The header or part of the message that is wrong ("Via", "Request-URI", "start-line"). */
  readonly field: string;

  constructor(field: string, reason: string, status = 400) {
    super(reason);
    this.field = field;
    this.status = status;
  }

  /** A reason phrase safe to put on the wire: no CR/LF, bounded length. */
  get reasonPhrase(): string {
    const phrase = `Bad ${this.field}: ${this.message}`;
    return phrase.replace(/[\r\n]+/g, ' ').slice(0, 120);
  }
}

/** A message over one of the configured size limits (RFC 3261 21.4.14 413, 21.5.8 513). */
export class SipLimitError extends SipSyntaxError {
  constructor(field: string, reason: string, status = 413) {
    super(field, reason, status);
  }
}

/**
 * `read()`, or null when what it reads does not parse (it throws a
 * SipSyntaxError): for a value that may be malformed and has a fallback.
 * Any other error is a bug and propagates.
 */
export function parsedOrNull<T>(read: () => T): T | null {
  try {
    return read();
  } catch (err) {
    if (err instanceof SipSyntaxError) return null;
    throw err;
  }
}
