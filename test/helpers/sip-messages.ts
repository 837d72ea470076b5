/**
 * SIP messages for tests, parsed by the real parser (a message that does
 * not parse fails the test at once, with the parser's error).
 */
import { parseMessage } from '../../src/sip/parser.js';
import type { SipMessage } from '../../src/sip/message.js';

/** A message from its bytes or text, exactly as given. */
export function parse(data: string | Buffer): SipMessage {
  const r = parseMessage(typeof data === 'string' ? Buffer.from(data) : data);
  if (!r.ok) throw r.error;
  return r.message;
}

/** A message from its start line and header lines; Content-Length and the blank line are added, then `body`. */
export function msg(lines: string[], body = ''): SipMessage {
  return parse(`${lines.join('\r\n')}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/** A message written with bare LF line ends (a template literal), sent with CRLF. */
export function msgText(text: string): SipMessage {
  return parse(text.replace(/\n/g, '\r\n'));
}
