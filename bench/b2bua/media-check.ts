/**
 * Is a mode's media really anchored: from SIPp's message logs of one traced
 * call (`-trace_msg -message_file`), the SDP the UAC sent and the one the
 * UAS received (the offer), the SDP the UAS sent and the one the UAC
 * received in the 200 (the answer). A relay that anchors the call rewrites
 * both to an address and port of its own (RFC 4566 5.7 c=, 5.14 m=); SIPp's
 * scenarios send no RTP, so this is what "anchored" can mean here, for
 * every mode alike.
 */
import { readFileSync } from 'node:fs';

/** One SIP message of a SIPp message log. */
interface LoggedMessage {
  sent: boolean;
  text: string;
}

/** The messages of a SIPp `-message_file`: blocks after a dashed time-stamp line. */
export function readMessageLog(file: string): LoggedMessage[] {
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch {
    return [];
  }
  const out: LoggedMessage[] = [];
  for (const block of text.split(/^-{10,} .*$/m)) {
    const m = /^\s*\w+ message (sent|received)[^\n]*\n\n([\s\S]*)$/.exec(block);
    if (m !== null) out.push({ sent: m[1] === 'sent', text: m[2]!.replace(/\r\n/g, '\n') });
  }
  return out;
}

/** The audio address of an SDP body: the media-level c= if any, else the session's; and the m=audio port. */
export function audioAddress(message: string): string | undefined {
  const sep = message.indexOf('\n\n');
  if (sep < 0) return undefined;
  const body = message.slice(sep + 2);
  const port = /^m=audio (\d+)/m.exec(body)?.[1];
  if (port === undefined) return undefined;
  const media = body.slice(body.search(/^m=audio /m));
  const c = /^c=IN IP[46] (\S+)/m.exec(media) ?? /^c=IN IP[46] (\S+)/m.exec(body);
  return c === null ? undefined : `${c[1]}:${port}`;
}

function first(log: LoggedMessage[], sent: boolean, startLine: RegExp): string | undefined {
  const m = log.find((x) => x.sent === sent && startLine.test(x.text) && audioAddress(x.text) !== undefined);
  return m === undefined ? undefined : audioAddress(m.text);
}

export interface MediaCheck {
  /** The UAC's offer as sent and as the UAS received it (ip:port). */
  offer: { sent?: string; received?: string };
  /** The UAS's answer as sent and as the UAC received it. */
  answer: { sent?: string; received?: string };
  /** Both rewritten to a port in the relay's range. */
  anchored: boolean;
}

/** What one traced call's logs say; `range` is the relay's media ports. */
export function checkMedia(uacLog: string, uasLog: string, range: { min: number; max: number }): MediaCheck {
  const uac = readMessageLog(uacLog);
  const uas = readMessageLog(uasLog);
  const offer = { sent: first(uac, true, /^INVITE /), received: first(uas, false, /^INVITE /) };
  const answer = { sent: first(uas, true, /^SIP\/2\.0 200 /), received: first(uac, false, /^SIP\/2\.0 200 /) };
  const inRange = (a: string | undefined): boolean => {
    const port = Number(a?.slice(a.lastIndexOf(':') + 1));
    return port >= range.min && port <= range.max;
  };
  const rewritten = (x: { sent?: string; received?: string }): boolean =>
    x.sent !== undefined && x.received !== undefined && x.sent !== x.received && inRange(x.received);
  return { offer, answer, anchored: rewritten(offer) && rewritten(answer) };
}

export function describeCheck(c: MediaCheck): string {
  return `offer ${c.offer.sent ?? '?'} -> ${c.offer.received ?? '?'}, answer ${c.answer.sent ?? '?'} -> ${c.answer.received ?? '?'}: ${c.anchored ? 'anchored' : 'NOT anchored'}`;
}
