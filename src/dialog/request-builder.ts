import type { SipMessage } from '../sip/message.js';
import { parseMessage } from '../sip/parser.js';

export interface RequestParts {
  method: string;
  uri: string;
  /** Header fields in order; Content-Length is added. */
  headers: Array<[string, string]>;
  body?: Buffer | undefined;
}

/**
 * A request the B2BUA originates, written as text and parsed once: the
 * message then behaves like any received one (lazy headers, serializer
 * copying its bytes). A header value with CR or LF is refused: a value
 * relayed from the other leg must never split into two header lines.
 */
export function buildRequest(p: RequestParts): SipMessage {
  const body = p.body ?? EMPTY;
  let text = `${p.method} ${p.uri} SIP/2.0\r\n`;
  for (const [name, value] of p.headers) {
    if (hasLineBreak(value) || hasLineBreak(name)) throw new Error(`header ${name}: line break in value`);
    text += `${name}: ${value}\r\n`;
  }
  text += `Content-Length: ${body.length}\r\n\r\n`;
  const head = Buffer.from(text, 'utf8');
  const parsed = parseMessage(body.length === 0 ? head : Buffer.concat([head, body]));
  if (!parsed.ok) throw new Error(`built ${p.method} does not parse: ${parsed.error.message}`);
  return parsed.message;
}

const EMPTY = Buffer.alloc(0);

function hasLineBreak(s: string): boolean {
  return s.indexOf('\r') >= 0 || s.indexOf('\n') >= 0;
}
