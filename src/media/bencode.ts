/**
 * Bencode (the BitTorrent encoding rtpengine's ng protocol uses): byte
 * strings `4:spam`, integers `i42e`, lists `l...e`, dictionaries `d...e`
 * with keys sorted. Strings decode as UTF-8 text (SDP and ng values are text).
 */

export type BValue = string | number | BValue[] | { [key: string]: BValue };

export class BencodeError extends Error {
  override readonly name = 'BencodeError';
}

export function bencode(v: BValue): Buffer {
  const parts: Buffer[] = [];
  const walk = (x: BValue): void => {
    if (typeof x === 'string') {
      const b = Buffer.from(x, 'utf8');
      parts.push(Buffer.from(`${b.length}:`), b);
    } else if (typeof x === 'number') {
      if (!Number.isInteger(x)) throw new BencodeError(`bencode: not an integer: ${x}`);
      parts.push(Buffer.from(`i${x}e`));
    } else if (Array.isArray(x)) {
      parts.push(Buffer.from('l'));
      for (const y of x) walk(y);
      parts.push(Buffer.from('e'));
    } else if (x !== null && typeof x === 'object') {
      parts.push(Buffer.from('d'));
      for (const k of Object.keys(x).sort()) {
        const val = x[k];
        if (val === undefined) continue;
        walk(k);
        walk(val);
      }
      parts.push(Buffer.from('e'));
    } else {
      throw new BencodeError(`bencode: cannot encode ${typeof x}`);
    }
  };
  walk(v);
  return Buffer.concat(parts);
}

/** Decodes one value from buf[start...]; throws BencodeError on malformed input or trailing bytes. */
export function bdecode(buf: Buffer, start = 0): BValue {
  let pos = start;
  const fail = (what: string): never => {
    throw new BencodeError(`bencode: ${what} at byte ${pos}`);
  };
  const readInt = (end: number): number => {
    const text = buf.toString('latin1', pos, end);
    if (!/^-?\d+$/.test(text)) fail('bad integer');
    pos = end + 1;
    return Number(text);
  };
  const value = (depth: number): BValue => {
    if (depth > 64) fail('nesting too deep');
    if (pos >= buf.length) fail('unexpected end');
    const c = buf[pos]!;
    if (c === 0x69 /* i */) {
      pos++;
      const end = buf.indexOf(0x65, pos);
      if (end < 0) fail('unterminated integer');
      return readInt(end);
    }
    if (c === 0x6c /* l */) {
      pos++;
      const out: BValue[] = [];
      while (buf[pos] !== 0x65) out.push(value(depth + 1));
      pos++;
      return out;
    }
    if (c === 0x64 /* d */) {
      pos++;
      const out: { [key: string]: BValue } = {};
      while (buf[pos] !== 0x65) {
        const k = value(depth + 1);
        if (typeof k !== 'string') fail('dictionary key is not a string');
        out[k as string] = value(depth + 1);
      }
      pos++;
      return out;
    }
    if (c >= 0x30 && c <= 0x39) {
      const colon = buf.indexOf(0x3a, pos);
      if (colon < 0) fail('string without length');
      const len = readInt(colon);
      if (pos + len > buf.length) fail('string past the end');
      const s = buf.toString('utf8', pos, pos + len);
      pos += len;
      return s;
    }
    return fail('unexpected byte');
  };
  const v = value(0);
  if (pos !== buf.length) fail('trailing bytes');
  return v;
}
