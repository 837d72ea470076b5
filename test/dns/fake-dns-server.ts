/**
 * A minimal authoritative DNS server for tests, on 127.0.0.1 over UDP.
 *
 * It answers A, AAAA, SRV and NAPTR questions from a zone object (RFC 1035
 * 4.1 message format; SRV RDATA per RFC 2782, NAPTR RDATA per RFC 3403 4.1),
 * NXDOMAIN for a name that is not in the zone, and NOERROR with no answers
 * (NODATA) for a name that is there without records of the asked type. It
 * counts every question it receives, so tests can tell cache hits from
 * queries on the wire.
 *
 * Names are written uncompressed (always legal; RFC 2782 and RFC 3403 even
 * forbid compressing the SRV target and NAPTR replacement). Incoming names
 * may use compression pointers. Answers are expected to fit in 512 bytes.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';

export const TYPE = { A: 1, AAAA: 28, SRV: 33, NAPTR: 35, OPT: 41 } as const;
export type RecordType = 'A' | 'AAAA' | 'SRV' | 'NAPTR';

const TYPE_NAMES = new Map<number, string>([
  [1, 'A'],
  [28, 'AAAA'],
  [33, 'SRV'],
  [35, 'NAPTR'],
]);

export interface SrvData {
  priority: number;
  weight: number;
  port: number;
  /** '.' for "service decidedly not available" (RFC 2782). */
  target: string;
}

export interface NaptrData {
  order: number;
  preference: number;
  flags: string;
  service: string;
  regexp: string;
  replacement: string;
}

/** All records of one owner name; `ttl` (seconds, default 300) applies to each of them. */
export interface ZoneEntry {
  ttl?: number;
  A?: string[];
  AAAA?: string[];
  SRV?: SrvData[];
  NAPTR?: NaptrData[];
}

/** Owner name (case-insensitive, no trailing dot) → records. */
export type Zone = Record<string, ZoneEntry>;

export interface Question {
  id: number;
  flags: number;
  name: string;
  qtype: number;
  qclass: number;
  /** Byte length of header + question: the slice echoed back in the answer. */
  end: number;
}

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4 } as const;

// ---------------------------------------------------------------------------
// Decoding

/** Reads a (possibly compressed) domain name at `off`; returns it without the trailing dot and the offset after it. */
export function readName(buf: Buffer, off: number): { name: string; next: number } {
  const labels: string[] = [];
  let next = -1;
  let jumps = 0;
  for (;;) {
    if (off >= buf.length) throw new Error('name runs past the message');
    const len = buf[off]!;
    if (len === 0) {
      off += 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (off + 1 >= buf.length) throw new Error('truncated pointer');
      if (++jumps > 32) throw new Error('pointer loop');
      if (next < 0) next = off + 2;
      off = ((len & 0x3f) << 8) | buf[off + 1]!;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new Error('bad label type');
    if (off + 1 + len > buf.length) throw new Error('label runs past the message');
    labels.push(buf.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
  return { name: labels.join('.'), next: next < 0 ? off : next };
}

/** Decodes the header and the single question of a query (RFC 1035 4.1.1, 4.1.2). */
export function decodeQuery(buf: Buffer): Question {
  if (buf.length < 12) throw new Error('short header');
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  const qdcount = buf.readUInt16BE(4);
  if (flags & 0x8000) throw new Error('not a query');
  if (qdcount !== 1) throw new Error(`expected one question, got ${qdcount}`);
  const { name, next } = readName(buf, 12);
  if (next + 4 > buf.length) throw new Error('truncated question');
  return { id, flags, name, qtype: buf.readUInt16BE(next), qclass: buf.readUInt16BE(next + 2), end: next + 4 };
}

// ---------------------------------------------------------------------------
// Encoding

export function encodeName(name: string): Buffer {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  const parts: Buffer[] = [];
  if (trimmed !== '') {
    for (const label of trimmed.split('.')) {
      const b = Buffer.from(label, 'latin1');
      if (b.length === 0 || b.length > 63) throw new Error(`bad label in ${name}`);
      parts.push(Buffer.from([b.length]), b);
    }
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

function characterString(s: string): Buffer {
  const b = Buffer.from(s, 'latin1');
  if (b.length > 255) throw new Error('character-string too long');
  return Buffer.concat([Buffer.from([b.length]), b]);
}

function u16(...values: number[]): Buffer {
  const b = Buffer.alloc(2 * values.length);
  values.forEach((v, i) => b.writeUInt16BE(v, 2 * i));
  return b;
}

/** IPv6 text (with '::' and an optional dotted IPv4 tail) → 16 bytes. */
export function ipv6Bytes(addr: string): Buffer {
  if (!isIPv6(addr)) throw new Error(`not an IPv6 address: ${addr}`);
  let text = addr;
  const lastColon = text.lastIndexOf(':');
  const v4 = text.slice(lastColon + 1);
  if (isIPv4(v4)) {
    const o = v4.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const dbl = text.indexOf('::');
  let words: number[];
  if (dbl >= 0) {
    const head = groups(text.slice(0, dbl));
    const rest = groups(text.slice(dbl + 2));
    words = [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
  } else {
    words = groups(text);
  }
  if (words.length !== 8) throw new Error(`bad IPv6 address: ${addr}`);
  return u16(...words);
}

function rdata(type: RecordType, value: string | SrvData | NaptrData): Buffer {
  switch (type) {
    case 'A': {
      const s = value as string;
      if (!isIPv4(s)) throw new Error(`not an IPv4 address: ${s}`);
      return Buffer.from(s.split('.').map(Number));
    }
    case 'AAAA':
      return ipv6Bytes(value as string);
    case 'SRV': {
      const v = value as SrvData;
      return Buffer.concat([u16(v.priority, v.weight, v.port), encodeName(v.target === '.' ? '' : v.target)]);
    }
    case 'NAPTR': {
      const v = value as NaptrData;
      return Buffer.concat([
        u16(v.order, v.preference),
        characterString(v.flags),
        characterString(v.service),
        characterString(v.regexp),
        encodeName(v.replacement === '.' ? '' : v.replacement),
      ]);
    }
  }
}

export interface Answer {
  type: RecordType;
  ttl: number;
  value: string | SrvData | NaptrData;
}

/**
 * A response to `q`: the header and question are echoed (same id, RD copied),
 * QR and AA set, then `answers` as resource records owned by the question name.
 */
export function encodeResponse(query: Buffer, q: Question, rcode: number, answers: Answer[]): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id, 0);
  // QR=1, opcode copied, AA=1, TC=0, RD copied, RA=0, Z=0, RCODE.
  const flags = 0x8000 | (q.flags & 0x7800) | 0x0400 | (q.flags & 0x0100) | (rcode & 0xf);
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  const question = query.subarray(12, q.end);
  const owner = Buffer.from([0xc0, 12]); // pointer to the question name
  const rrs = answers.map((a) => {
    const data = rdata(a.type, a.value);
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(TYPE[a.type], 0);
    fixed.writeUInt16BE(1, 2); // class IN
    fixed.writeUInt32BE(a.ttl, 4);
    fixed.writeUInt16BE(data.length, 8);
    return Buffer.concat([owner, fixed, data]);
  });
  return Buffer.concat([header, question, ...rrs]);
}

// ---------------------------------------------------------------------------
// Server

export interface LoggedQuery {
  name: string;
  type: string;
}

export class FakeDnsServer {
  /** Every question received, in order; names lowercase. */
  readonly queries: LoggedQuery[] = [];
  /** Names (lowercase) whose questions are dropped without an answer (to provoke timeouts). */
  readonly silent = new Set<string>();
  /** Delay before each answer, ms. */
  delayMs = 0;
  private zone: Map<string, ZoneEntry>;

  private constructor(
    private readonly sock: Socket,
    zone: Zone,
  ) {
    this.zone = normalize(zone);
    sock.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
  }

  static async start(zone: Zone): Promise<FakeDnsServer> {
    const sock = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(0, '127.0.0.1', () => {
        sock.off('error', reject);
        resolve();
      });
    });
    return new FakeDnsServer(sock, zone);
  }

  get port(): number {
    return this.sock.address().port;
  }

  /** `127.0.0.1:port`, for LocatorOptions.servers. */
  get server(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Replaces the whole zone. */
  setZone(zone: Zone): void {
    this.zone = normalize(zone);
  }

  /** Questions received for that name (and type, when given). */
  count(name: string, type?: RecordType): number {
    const n = name.toLowerCase();
    return this.queries.filter((q) => q.name === n && (type === undefined || q.type === type)).length;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.sock.close(() => resolve()));
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    let q: Question;
    try {
      q = decodeQuery(msg);
    } catch {
      return; // not worth a FORMERR in a test server
    }
    const name = q.name.toLowerCase();
    this.queries.push({ name, type: TYPE_NAMES.get(q.qtype) ?? String(q.qtype) });
    if (this.silent.has(name)) return;
    const reply = this.answer(msg, q, name);
    const send = (): void => this.sock.send(reply, rinfo.port, rinfo.address);
    if (this.delayMs > 0) setTimeout(send, this.delayMs);
    else send();
  }

  private answer(msg: Buffer, q: Question, name: string): Buffer {
    if (q.qclass !== 1) return encodeResponse(msg, q, RCODE.NOTIMP, []);
    const entry = this.zone.get(name);
    if (entry === undefined) return encodeResponse(msg, q, RCODE.NXDOMAIN, []);
    const type = TYPE_NAMES.get(q.qtype) as RecordType | undefined;
    const ttl = entry.ttl ?? 300;
    const values = type === undefined ? [] : ((entry[type] ?? []) as Array<string | SrvData | NaptrData>);
    return encodeResponse(
      msg,
      q,
      RCODE.NOERROR,
      values.map((value) => ({ type: type!, ttl, value })),
    );
  }
}

function normalize(zone: Zone): Map<string, ZoneEntry> {
  const m = new Map<string, ZoneEntry>();
  for (const [name, entry] of Object.entries(zone)) m.set(name.toLowerCase().replace(/\.$/, ''), entry);
  return m;
}
