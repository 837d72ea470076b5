import type { SipMessage } from './message.js';
import { H } from './header-names.js';

const CRLF_LEN = 2;

/**
 * Writes a message to bytes. Untouched header lines (and an untouched start
 * line) are copied from the source buffer byte for byte, runs of adjacent
 * lines in one copy; lines added or changed are written as "Name: value".
 * A message without Content-Length gets one (RFC 3261 20.14: required on
 * streams, and harmless on UDP).
 */
export function serialize(msg: SipMessage): Buffer {
  return serializeWith(msg, Buffer.allocUnsafe);
}

/**
 * serialize() into a buffer of its own instead of a slice of Node's shared
 * 8 KiB Buffer pool: for bytes kept a long time (a final response kept for
 * retransmissions for 32 s), which would otherwise keep the whole slab, and
 * every other message written into it, alive.
 */
export function serializeUnpooled(msg: SipMessage): Buffer {
  return serializeWith(msg, Buffer.allocUnsafeSlow);
}

function serializeWith(msg: SipMessage, alloc: (size: number) => Buffer): Buffer {
  const fields = msg.fields;
  const startBytes = msg.startLineBytes();
  const startText = startBytes === null ? msg.startLine : '';
  let size = startBytes === null ? Buffer.byteLength(startText) + CRLF_LEN : startBytes.length;
  let hasContentLength = false;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    if (f.id === H.ContentLength) hasContentLength = true;
    if (f.src !== null) size += f.lineEnd - f.lineStart;
    else size += Buffer.byteLength(f.name) + 2 + Buffer.byteLength(f.value) + CRLF_LEN;
  }
  const body = msg.body;
  const contentLengthLine = hasContentLength ? '' : `Content-Length: ${body.length}\r\n`;
  size += contentLengthLine.length + CRLF_LEN + body.length;

  const out = alloc(size);
  let pos = 0;
  if (startBytes !== null) pos += startBytes.copy(out, pos);
  else {
    pos += out.write(startText, pos, 'utf8');
    pos = writeCrlf(out, pos);
  }
  let i = 0;
  while (i < fields.length) {
    const f = fields[i]!;
    if (f.src !== null) {
      // Extend the copy over following lines that sit right after this one in the same source.
      let end = f.lineEnd;
      let j = i + 1;
      while (j < fields.length && fields[j]!.src === f.src && fields[j]!.lineStart === end) {
        end = fields[j]!.lineEnd;
        j++;
      }
      pos += f.src.copy(out, pos, f.lineStart, end);
      i = j;
      continue;
    }
    pos += out.write(f.name, pos, 'utf8');
    out[pos++] = 58; // ':'
    out[pos++] = 32; // ' '
    pos += out.write(f.value, pos, 'utf8');
    pos = writeCrlf(out, pos);
    i++;
  }
  if (contentLengthLine.length > 0) pos += out.write(contentLengthLine, pos, 'latin1');
  pos = writeCrlf(out, pos);
  pos += body.copy(out, pos);
  return pos === size ? out : out.subarray(0, pos);
}

function writeCrlf(out: Buffer, pos: number): number {
  out[pos] = 13;
  out[pos + 1] = 10;
  return pos + 2;
}
