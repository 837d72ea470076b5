/**
 * A table of CIDR blocks (IPv4 and IPv6) to values, answering "every block
 * that holds this address, most specific first" with one Map lookup per
 * distinct prefix length in the table (a handful in practice), whatever the
 * number of blocks. node's BlockList checks its rules one by one, which
 * costs microseconds per rule on every request; this does not.
 *
 * Keys: for IPv4 the network number shifted right by (32 - bits), for IPv6
 * the hextets of the network written out up to the prefix length.
 */
import { isIP } from 'node:net';
import { parseCidr } from './cidr.js';

/** IPv4 dotted-quad to an unsigned 32-bit number, or -1. */
export function ipv4ToNumber(ip: string): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || ++dots > 3) return -1;
      n = n * 256 + part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return n * 256 + part;
}

/** IPv6 text (no brackets, no zone) to its 8 hextets, or null. Embedded IPv4 tails are taken. */
export function ipv6ToHextets(ip: string): number[] | null {
  if (isIP(ip) !== 6) return null;
  let text = ip;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) >= 0) {
    const v4 = ipv4ToNumber(text.slice(lastColon + 1));
    if (v4 < 0) return null;
    tail.push(Math.floor(v4 / 65536), v4 % 65536);
    // `::ffff:1.2.3.4` -> `::ffff`; `::1.2.3.4` -> `::`.
    const head = text.slice(0, lastColon + 1);
    text = head.endsWith('::') ? head : head.slice(0, -1);
  }
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((h) => parseInt(h, 16)));
  const gap = text.indexOf('::');
  let words: number[];
  if (gap >= 0) {
    const head = parse(text.slice(0, gap));
    const rest = parse(text.slice(gap + 2));
    const fill = 8 - tail.length - head.length - rest.length;
    if (fill < 0) return null;
    words = [...head, ...new Array<number>(fill).fill(0), ...rest, ...tail];
  } else {
    words = [...parse(text), ...tail];
  }
  return words.length === 8 && words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff) ? words : null;
}

function v6Key(words: readonly number[], bits: number): string {
  let key = '';
  let left = bits;
  for (let i = 0; i < 8 && left > 0; i++) {
    const take = Math.min(16, left);
    const w = take === 16 ? words[i]! : words[i]! & (0xffff << (16 - take)) & 0xffff;
    key += `${w.toString(16)}:`;
    left -= take;
  }
  return `${bits}/${key}`;
}

function v4Key(n: number, bits: number): number {
  return bits === 0 ? 0 : Math.floor(n / 2 ** (32 - bits));
}

export class CidrTable<T> {
  readonly #v4 = new Map<number, Map<number, T[]>>();
  readonly #v6 = new Map<number, Map<string, T[]>>();
  #v4Lengths: number[] = [];
  #v6Lengths: number[] = [];

  /** Adds `IP/BITS` (or a bare IP: /32, /128); false when it does not parse. */
  add(cidr: string, value: T): boolean {
    const c = parseCidr(cidr);
    if (c === null) return false;
    const { ip, bits } = c;
    if (c.family === 4) {
      const n = ipv4ToNumber(ip);
      if (n < 0) return false;
      let byKey = this.#v4.get(bits);
      if (byKey === undefined) {
        this.#v4.set(bits, (byKey = new Map()));
        this.#v4Lengths = [...this.#v4.keys()].sort((a, b) => b - a);
      }
      const key = v4Key(n, bits);
      const list = byKey.get(key);
      if (list === undefined) byKey.set(key, [value]);
      else list.push(value);
      return true;
    }
    const words = ipv6ToHextets(ip);
    if (words === null) return false;
    let byKey = this.#v6.get(bits);
    if (byKey === undefined) {
      this.#v6.set(bits, (byKey = new Map()));
      this.#v6Lengths = [...this.#v6.keys()].sort((a, b) => b - a);
    }
    const key = v6Key(words, bits);
    const list = byKey.get(key);
    if (list === undefined) byKey.set(key, [value]);
    else list.push(value);
    return true;
  }

  /** Sorts the values of each block (e.g. by name), for a stable order among equals. */
  sortEach(compare: (a: T, b: T) => number): void {
    for (const byKey of this.#v4.values()) for (const list of byKey.values()) list.sort(compare);
    for (const byKey of this.#v6.values()) for (const list of byKey.values()) list.sort(compare);
  }

  /**
   * Calls `visit` with the values of every block holding `ip` (a canonical
   * address: IPv4 dotted, or IPv6), most specific block first, until it
   * returns true. Returns whether one did.
   */
  find(ip: string, visit: (value: T) => boolean): boolean {
    const n = ipv4ToNumber(ip);
    if (n >= 0) {
      for (const bits of this.#v4Lengths) {
        const list = this.#v4.get(bits)!.get(v4Key(n, bits));
        if (list !== undefined) for (const v of list) if (visit(v)) return true;
      }
      return false;
    }
    if (this.#v6Lengths.length === 0) return false;
    const words = ipv6ToHextets(ip);
    if (words === null) return false;
    for (const bits of this.#v6Lengths) {
      const list = this.#v6.get(bits)!.get(v6Key(words, bits));
      if (list !== undefined) for (const v of list) if (visit(v)) return true;
    }
    return false;
  }
}
