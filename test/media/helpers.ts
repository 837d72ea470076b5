/**
 * Test peers for the media relay: UDP sockets on loopback that write SDP,
 * send RTP/RTCP (optionally SRTP with a real SrtpContext) and collect what
 * arrives. Port ranges for the relay are reserved (test/helpers/port-ranges.ts),
 * so test files run side by side never share one.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { SrtpContext, type SrtpSuiteName } from '../../src/media/srtp/context.js';
import { reserveBindableRange, reservePortRange } from '../helpers/port-ranges.js';

/** An even-aligned range of `size` ports in 40002-49801 no other test process holds (test/helpers/port-ranges.ts). */
export function mediaPortRange(size = 200): { min: number; max: number } {
  return reservePortRange(size);
}

/**
 * A range above the kernel's ephemeral ports (reserveBindableRange) whose
 * every port binds on 127.0.0.1 now, for tests that fill a range: no
 * other process's socket takes one of its ports meanwhile.
 */
export async function freeMediaRange(size: number): Promise<{ min: number; max: number }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const r = reserveBindableRange(size);
    let ok = true;
    for (let p = r.min; p <= r.max && ok; p++) {
      const s = await bindUdp(p).catch(() => null);
      if (s === null) ok = false;
      else s.close();
    }
    if (ok) return r;
  }
  throw new Error(`no free range of ${size} ports in 61000-65399`);
}

export function bindUdp(port = 0, host = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(port, host, () => {
      s.removeListener('error', reject);
      resolve(s);
    });
  });
}

export interface Received {
  buf: Buffer;
  port: number;
  address: string;
}

export class Peer {
  readonly rtpIn: Received[] = [];
  readonly rtcpIn: Received[] = [];
  /** Our master key (we send with it) and the relay's (we receive with it). */
  key: { suite: SrtpSuiteName; key: Buffer; salt: Buffer } | null = null;
  tx: SrtpContext | null = null;
  rx: SrtpContext | null = null;
  seq = 1000;
  ssrc = Math.floor(Math.random() * 0xffffffff) >>> 0;

  private constructor(
    readonly rtp: Socket,
    readonly rtcp: Socket,
  ) {
    rtp.on('message', (buf, r) => this.rtpIn.push({ buf, port: r.port, address: r.address }));
    rtcp.on('message', (buf, r) => this.rtcpIn.push({ buf, port: r.port, address: r.address }));
  }

  static async create(): Promise<Peer> {
    const rtp = await bindUdp();
    const rtcp = await bindUdp();
    return new Peer(rtp, rtcp);
  }

  get port(): number {
    return this.rtp.address().port;
  }

  get rtcpPort(): number {
    return this.rtcp.address().port;
  }

  /** Makes a fresh SDES key for sending; returns the a=crypto line. */
  srtpKey(suite: SrtpSuiteName = 'AES_CM_128_HMAC_SHA1_80', tag = 1): string {
    const raw = randomBytes(30);
    this.key = { suite, key: raw.subarray(0, 16), salt: raw.subarray(16) };
    this.tx = new SrtpContext(suite, this.key.key, this.key.salt);
    return `a=crypto:${tag} ${suite} inline:${raw.toString('base64')}`;
  }

  /** Reads the relay's a=crypto line (tag) from an SDP it sent us, for decrypting what it sends. */
  useRelayKey(sdp: string, tag?: number): { tag: number; suite: SrtpSuiteName } {
    const lines = [...sdp.matchAll(/^a=crypto:(\d+) (\S+) inline:([A-Za-z0-9+/=]+)/gm)];
    const m = tag === undefined ? lines[0] : lines.find((l) => Number(l[1]) === tag);
    if (m === undefined) throw new Error('no a=crypto in the relay SDP');
    const raw = Buffer.from(m[3]!, 'base64');
    this.rx = new SrtpContext(m[2] as SrtpSuiteName, raw.subarray(0, 16), raw.subarray(16));
    return { tag: Number(m[1]), suite: m[2] as SrtpSuiteName };
  }

  sdp(
    opts: {
      profile?: string;
      codecs?: string;
      extra?: string[];
      port?: number;
      address?: string;
      direction?: string;
      mux?: boolean;
    } = {},
  ): string {
    const profile = opts.profile ?? 'RTP/AVP';
    const codecs = opts.codecs ?? '8 0 101';
    const port = opts.port ?? this.port;
    const lines = [
      'v=0',
      `o=peer 1 1 IN IP4 ${opts.address ?? '127.0.0.1'}`,
      's=-',
      `c=IN IP4 ${opts.address ?? '127.0.0.1'}`,
      't=0 0',
      `m=audio ${port} ${profile} ${codecs}`,
      'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=fmtp:101 0-16',
      'a=ptime:20',
      opts.mux ? `a=rtcp:${port}` : `a=rtcp:${this.rtcpPort}`,
      ...(opts.mux ? ['a=rtcp-mux'] : []),
      `a=${opts.direction ?? 'sendrecv'}`,
      ...(opts.extra ?? []),
    ];
    return lines.join('\r\n') + '\r\n';
  }

  /** An RTP packet (PT 8 unless given) with a recognisable payload. */
  packet(payload: Buffer, pt = 8, ts?: number): Buffer {
    const b = Buffer.alloc(12 + payload.length);
    b[0] = 0x80;
    b[1] = pt;
    b.writeUInt16BE(this.seq & 0xffff, 2);
    b.writeUInt32BE((ts ?? this.seq * 160) >>> 0, 4);
    b.writeUInt32BE(this.ssrc, 8);
    payload.copy(b, 12);
    this.seq++;
    return b;
  }

  /** Sends RTP (encrypted with our key when SRTP) to the relay port; returns the plain packet. */
  send(port: number, payload: Buffer, pt = 8, ts?: number, from: Socket = this.rtp): Buffer {
    const p = this.packet(payload, pt, ts);
    let out = p;
    if (this.tx !== null) {
      out = Buffer.alloc(p.length + this.tx.rtpOverhead);
      this.tx.protectRtp(p, p.length, out);
    }
    from.send(out, port, '127.0.0.1');
    return p;
  }

  /** An RTCP RR with one report block (lost, jitter). */
  sendRr(port: number, lost: number, jitter: number, from: Socket = this.rtcp): Buffer {
    const rr = Buffer.alloc(32);
    rr[0] = 0x81;
    rr[1] = 201;
    rr.writeUInt16BE(7, 2);
    rr.writeUInt32BE(this.ssrc, 4);
    rr.writeUInt32BE(0x12345678, 8);
    rr.writeUInt32BE(lost & 0xffffff, 12);
    rr.writeUInt32BE(this.seq, 16);
    rr.writeUInt32BE(jitter, 20);
    let out = rr;
    if (this.tx !== null) {
      out = Buffer.alloc(32 + this.tx.rtcpOverhead);
      this.tx.protectRtcp(rr, 32, out);
    }
    from.send(out, port, '127.0.0.1');
    return rr;
  }

  /** Received RTP, decrypted when we hold the relay's key; undefined entries failed. */
  plainRtp(): (Buffer | undefined)[] {
    return this.rtpIn.map((r) => {
      if (this.rx === null) return r.buf;
      const b = Buffer.from(r.buf);
      const n = this.rx.unprotectRtp(b, b.length);
      return n < 0 ? undefined : b.subarray(0, n);
    });
  }

  close(): void {
    this.rtp.close();
    this.rtcp.close();
  }
}

export { sleep } from '../helpers/wait.js';

/** The m= port, a=rtcp port and c= address of an SDP. */
export function sdpPorts(sdp: string): {
  port: number;
  rtcp: number | null;
  address: string;
  profile: string;
  payloads: string;
} {
  const m = /^m=audio (\d+) (\S+) ?(.*)$/m.exec(sdp);
  const r = /^a=rtcp:(\d+)/m.exec(sdp);
  const c = /^c=IN IP[46] (\S+)/m.exec(sdp);
  return {
    port: Number(m?.[1]),
    profile: m?.[2] ?? '',
    payloads: (m?.[3] ?? '').trim(),
    rtcp: r ? Number(r[1]) : null,
    address: c?.[1] ?? '',
  };
}
