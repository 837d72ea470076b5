/**
 * Content-Length framing of SIP over byte streams (RFC 3261 18.3).
 *
 * Fed arbitrary chunks, emits complete messages. The header section ends at the
 * first CRLFCRLF; Content-Length (or compact `l`) gives the body length and MUST
 * be present on stream transports. Between messages, a "\r\n\r\n" is an
 * RFC 5626 keep-alive ping (the caller answers "\r\n"); a lone "\r\n" is
 * skipped (RFC 3261 7.5). Memory is bounded by maxHeaderBytes while reading a
 * header section and by maxStreamMessageBytes while reading a body. After the
 * first error the framer discards everything it is fed.
 */

export interface FramerLimits {
  /** Whole message (header section + CRLFCRLF + body) must not exceed this. */
  maxStreamMessageBytes: number;
  /** Header section including the terminating CRLFCRLF must not exceed this. */
  maxHeaderBytes: number;
}

export type FramerEvent =
  | { kind: 'message'; data: Buffer }
  | { kind: 'ping' }
  | { kind: 'error'; status: 400 | 413 | 513; reason: string; headerText: string | null };

const CR = 0x0d;
const LF = 0x0a;
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const EMPTY = Buffer.alloc(0);
const PING: FramerEvent = Object.freeze({ kind: 'ping' }) as FramerEvent;

export type ContentLengthResult = { ok: true; value: number } | { ok: false; reason: string };

/**
 * Content-Length of a header section (start line + headers, no final CRLFCRLF).
 * Header names are case-insensitive, `l` is the compact form, folded lines are
 * unfolded, whitespace around the value is ignored. Several headers with the
 * same value are tolerated; different values, a negative or non-numeric value,
 * or no Content-Length at all are errors.
 */
export function parseContentLength(headerText: string): ContentLengthResult {
  const unfolded =
    headerText.includes('\r\n ') || headerText.includes('\r\n\t') ? headerText.replace(/\r\n[ \t]+/g, ' ') : headerText;
  const lines = unfolded.split('\r\n');
  let value: number | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon < 1 || colon > 20) continue; // "content-length" plus some whitespace fits
    const name = line.slice(0, colon).trim().toLowerCase();
    if (name !== 'content-length' && name !== 'l') continue;
    const raw = line.slice(colon + 1).trim();
    if (!/^[0-9]+$/.test(raw)) {
      return { ok: false, reason: `invalid Content-Length "${printable(raw)}"` };
    }
    const v = Number(raw);
    if (value !== undefined && v !== value) {
      return { ok: false, reason: `conflicting Content-Length values ${value} and ${printable(raw)}` };
    }
    value = v;
  }
  if (value === undefined) {
    return { ok: false, reason: 'missing Content-Length (required on stream transports)' };
  }
  return { ok: true, value };
}

function printable(s: string): string {
  return s.slice(0, 32).replace(/[^\x20-\x7e]/g, '?');
}

export class StreamFramer {
  private buf: Buffer = EMPTY;
  /** Bytes of the pending header section already searched for CRLFCRLF (0 = at a message boundary). */
  private scanned = 0;
  /** Total length of the message being read once its header is parsed; -1 while reading a header. */
  private need = -1;
  private failed = false;

  constructor(private readonly limits: FramerLimits) {}

  /** Bytes held waiting for the rest of a message. */
  get bufferedBytes(): number {
    return this.buf.length;
  }

  /** True once a framing error was reported; further input is discarded. */
  get isFailed(): boolean {
    return this.failed;
  }

  push(chunk: Buffer): FramerEvent[] {
    if (this.failed || chunk.length === 0) return [];
    const buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const len = buf.length;
    const events: FramerEvent[] = [];
    let off = 0;

    for (;;) {
      if (this.need < 0) {
        if (this.scanned === 0) {
          // At a message boundary: keep-alives and stray line ends.
          const next = this.skipLineEnds(buf, off, len, events);
          if (next < 0) {
            off = -1 - next;
            break;
          }
          off = next;
        }
        const avail = len - off;
        if (avail === 0) break;

        const from = off + Math.max(0, this.scanned - 3);
        const end = buf.indexOf(CRLFCRLF, from);
        if (end < 0) {
          if (avail >= this.limits.maxHeaderBytes) {
            return this.fail(
              events,
              513,
              `header section exceeds ${this.limits.maxHeaderBytes} bytes without end`,
              null,
            );
          }
          this.scanned = avail;
          break;
        }
        const headerText = buf.toString('utf8', off, end);
        const headerBytes = end - off + 4;
        if (headerBytes > this.limits.maxHeaderBytes) {
          return this.fail(
            events,
            513,
            `header section of ${headerBytes} bytes exceeds ${this.limits.maxHeaderBytes}`,
            headerText,
          );
        }
        const cl = parseContentLength(headerText);
        if (!cl.ok) return this.fail(events, 400, cl.reason, headerText);
        const total = headerBytes + cl.value;
        if (total > this.limits.maxStreamMessageBytes) {
          return this.fail(
            events,
            413,
            `message of ${total} bytes exceeds ${this.limits.maxStreamMessageBytes}`,
            headerText,
          );
        }
        this.need = total;
        this.scanned = 0;
      }

      if (len - off < this.need) break;
      // Copy: the message must not pin the (possibly larger) receive buffer.
      events.push({ kind: 'message', data: Buffer.from(buf.subarray(off, off + this.need)) });
      off += this.need;
      this.need = -1;
    }

    this.buf = off >= len ? EMPTY : off === 0 ? buf : buf.subarray(off);
    return events;
  }

  /**
   * At a message boundary: bare LFs and lone CRLFs are skipped, a CRLFCRLF
   * keep-alive (RFC 5626 4.4.1) becomes a PING event. Returns the offset
   * after them, or -1 - offset when more bytes are needed to tell. A CR
   * followed by anything else is left for header scanning (garbage).
   */
  private skipLineEnds(buf: Buffer, at: number, len: number, events: FramerEvent[]): number {
    let off = at;
    for (;;) {
      const avail = len - off;
      if (avail === 0) return off;
      const b0 = buf[off];
      if (b0 === LF) {
        off += 1; // bare LF: tolerated like CRLF
        continue;
      }
      if (b0 !== CR) return off;
      if (avail < 2) return -1 - off;
      if (buf[off + 1] !== LF) return off;
      if (avail < 3) return -1 - off; // "\r\n" so far: may be the start of a ping
      if (buf[off + 2] !== CR) {
        off += 2; // lone CRLF before a message
        continue;
      }
      if (avail < 4) return -1 - off;
      if (buf[off + 3] === LF) events.push(PING);
      off += buf[off + 3] === LF ? 4 : 2;
    }
  }

  private fail(
    events: FramerEvent[],
    status: 400 | 413 | 513,
    reason: string,
    headerText: string | null,
  ): FramerEvent[] {
    this.failed = true;
    this.buf = EMPTY;
    this.need = -1;
    this.scanned = 0;
    events.push({ kind: 'error', status, reason, headerText });
    return events;
  }
}
