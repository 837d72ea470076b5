/**
 * The packet path of the built-in relay. One RelayLeg per side of a media
 * stream: its sockets (RTP, and RTCP unless rtcp-mux), where its peer
 * receives, its SRTP contexts, its figures. A packet received on a leg is
 * checked (latching, SRTP), counted, and sent out of the other leg's socket
 * to the other peer (encrypted when that leg is SRTP).
 *
 * Symmetric RTP (RFC 4961, "latching" of RFC 7362 4): until a leg has
 * latched, it sends to the address in its peer's SDP; the first valid packet
 * from the peer (authenticated, for SRTP) fixes the address it sends to and
 * accepts from. Packets from any other source afterwards are dropped and
 * counted. A new address in a re-INVITE's SDP unlatches.
 *
 * Per packet: no closures, no object allocation on the plain path (the
 * received Buffer is sent on as is, decryption is in place); encryption
 * takes one pooled Buffer.allocUnsafe for the longer packet, sent whole. Liveness is
 * a counter the engine's timer compares, not a clock read per packet.
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import type { FlowStats } from './engine.js';
import { isRtcp, lastReportBlock } from './rtcp.js';
import { SrtpContext } from './srtp/context.js';

/**
 * The ICE/DTLS side of a WebRTC leg (webrtc/ice-dtls.ts): the STUN and DTLS
 * datagrams of the leg's port go there (RFC 7983: first byte 0-3 STUN,
 * 20-63 DTLS), and the leg carries media only once it set the SRTP contexts.
 */
export interface IceHandler {
  onStun(msg: Buffer, rinfo: RemoteInfo): void;
  onDtls(msg: Buffer, rinfo: RemoteInfo): void;
  close(): void;
}

export class RelayLeg {
  other!: RelayLeg;
  rtcpSock: Socket | null = null;
  rtcpPort: number | null = null;
  mux = false;

  /** Where the peer receives RTP/RTCP: from its SDP until latched, then the latched source. */
  dstAddr = '';
  dstPort = 0;
  dstRtcpAddr = '';
  dstRtcpPort = 0;
  latched = false;
  rtcpLatched = false;

  /** Decrypts what the peer sends; encrypts what goes to the peer. */
  srtpIn: SrtpContext | null = null;
  srtpOut: SrtpContext | null = null;

  /** RFC 4733 payload types and the timestamp of the last event seen (a new timestamp = a new event). */
  tePt1 = -1;
  tePt2 = -1;
  lastDtmfTs = -1;
  /** Clock rate for RTCP jitter (timestamp units to ms). */
  clockRate = 8000;

  /** Valid packets received from the peer (RTP and RTCP); the engine's timer watches it. */
  rxCount = 0;
  /** Not RTP (udptl for T.38 fax): datagrams are relayed as they are, no RTP checks, no SRTP. */
  raw = false;
  /** A WebRTC leg's ICE-lite and DTLS-SRTP; null on other legs. */
  ice: IceHandler | null = null;

  constructor(
    readonly side: 'a' | 'b',
    readonly rtpSock: Socket,
    readonly rtpPort: number,
    /** Figures of what the peer sends (the flow from this side). */
    readonly flowIn: FlowStats,
    /** Figures of the flow toward this side (its RTCP reports describe that one). */
    readonly flowOut: FlowStats,
  ) {
    rtpSock.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.onRtp(msg, rinfo));
    rtpSock.on('error', () => {
      /* ICMP errors on unconnected UDP sockets are not reported by node; nothing to do. */
    });
  }

  attachRtcp(sock: Socket, port: number): void {
    this.rtcpSock = sock;
    this.rtcpPort = port;
    sock.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.onRtcp(msg, rinfo));
    sock.on('error', () => {});
  }

  /** Closes the RTCP socket (the peer accepted rtcp-mux); returns its port for freeing. */
  dropRtcp(): number | null {
    const port = this.rtcpPort;
    if (this.rtcpSock !== null) this.rtcpSock.close();
    this.rtcpSock = null;
    this.rtcpPort = null;
    return port;
  }

  /** Sets where the peer receives, from its SDP; a change of address unlatches. */
  setPeer(address: string | null, port: number, rtcpAddress: string | null, rtcpPort: number, mux: boolean): void {
    const addr = address ?? '';
    const sdpChanged = addr !== this.sdpAddr || port !== this.sdpPort;
    this.sdpAddr = addr;
    this.sdpPort = address === null ? 0 : port;
    this.mux = mux;
    if (sdpChanged || !this.latched) {
      this.latched = false;
      this.rtcpLatched = false;
      this.dstAddr = addr;
      this.dstPort = this.sdpPort;
    }
    if (!this.rtcpLatched) {
      this.dstRtcpAddr = mux ? addr : (rtcpAddress ?? addr);
      this.dstRtcpPort = address === null ? 0 : mux ? port : rtcpPort;
    }
  }
  private sdpAddr = '';
  private sdpPort = 0;

  /** ICE validated this source (a checked Binding request): media goes there and comes only from there. */
  iceLatch(rinfo: RemoteInfo): void {
    this.latch(rinfo);
    this.rtcpLatched = true;
    this.dstRtcpAddr = rinfo.address;
    this.dstRtcpPort = rinfo.port;
  }

  close(): void {
    this.ice?.close();
    this.rtpSock.close();
    if (this.rtcpSock !== null) this.rtcpSock.close();
  }

  private onRtp(msg: Buffer, rinfo: RemoteInfo): void {
    const flow = this.flowIn;
    if (this.ice !== null && !this.iceIn(msg, rinfo)) return;
    let relatch = false;
    if (this.latched && (rinfo.port !== this.dstPort || rinfo.address !== this.dstAddr)) {
      // The address the peer's SDP gave wins back over one learned earlier (a stranger
      // that got in first); for SRTP only once its packet authenticates.
      if (rinfo.port !== this.sdpPort || rinfo.address !== this.sdpAddr) {
        flow.strangers++;
        flow.dropped++;
        return;
      }
      relatch = true;
    }
    let len = msg.length;
    if (this.raw) {
      if (!this.latched || relatch) this.latch(rinfo);
      this.rxCount++;
      this.forwardRtp(msg, len);
      return;
    }
    // RFC 5761 4: RTCP types 192-223 never collide with RTP payload types in use, so
    // RTCP is recognised on the RTP port whether or not rtcp-mux was negotiated.
    if (isRtcp(msg, len)) {
      this.rtcpIn(msg, len, rinfo, true);
      return;
    }
    if (len < 12 || msg[0]! >>> 6 !== 2) {
      flow.dropped++;
      return;
    }
    if (this.srtpIn !== null) {
      len = this.srtpIn.unprotectRtp(msg, len);
      if (len < 0) {
        flow.srtpFailures++;
        flow.dropped++;
        return;
      }
    }
    if (!this.latched || relatch) this.latch(rinfo);
    this.rxCount++;
    const pt = msg[1]! & 0x7f;
    if (pt === this.tePt1 || pt === this.tePt2) {
      const ts = ((msg[4]! << 24) | (msg[5]! << 16) | (msg[6]! << 8) | msg[7]!) >>> 0;
      if (ts !== this.lastDtmfTs) {
        this.lastDtmfTs = ts;
        flow.dtmfEvents++;
      }
    }
    this.forwardRtp(msg, len);
  }

  /** A WebRTC leg: STUN and DTLS go to its handler; media passes (true) only once SRTP is keyed. */
  private iceIn(msg: Buffer, rinfo: RemoteInfo): boolean {
    const b = msg.length > 0 ? msg[0]! : 255;
    if (b < 4) this.ice!.onStun(msg, rinfo);
    else if (b >= 20 && b < 64) this.ice!.onDtls(msg, rinfo);
    else if (this.srtpIn !== null) return true;
    else this.flowIn.dropped++;
    return false;
  }

  /** Sends the first LEN bytes of a packet from the peer on to the other side (SRTP-protected unless raw). */
  private forwardRtp(msg: Buffer, len: number): void {
    const flow = this.flowIn;
    const o = this.other;
    if (o.dstPort === 0 || (o.ice !== null && o.srtpOut === null)) {
      flow.dropped++;
      return;
    }
    flow.packets++;
    flow.bytes += len;
    const out = this.raw ? null : o.srtpOut;
    if (out === null) {
      // Without offset/length node does not slice a new Buffer view per send.
      if (len === msg.length) o.rtpSock.send(msg, o.dstPort, o.dstAddr);
      else o.rtpSock.send(msg, 0, len, o.dstPort, o.dstAddr);
    } else {
      const buf = Buffer.allocUnsafe(len + out.rtpOverhead);
      // protectRtp fills buf exactly, so it is sent whole (no Buffer view per send).
      if (out.protectRtp(msg, len, buf) === buf.length) o.rtpSock.send(buf, o.dstPort, o.dstAddr);
    }
  }

  private onRtcp(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.rtcpLatched && (rinfo.port !== this.dstRtcpPort || rinfo.address !== this.dstRtcpAddr)) {
      this.flowIn.strangers++;
      this.flowIn.dropped++;
      return;
    }
    this.rtcpIn(msg, msg.length, rinfo, false);
  }

  private rtcpIn(msg: Buffer, len0: number, rinfo: RemoteInfo, viaMux: boolean): void {
    const flow = this.flowIn;
    let len = len0;
    if (this.srtpIn !== null) {
      len = this.srtpIn.unprotectRtcp(msg, len);
      if (len < 0) {
        flow.srtpFailures++;
        flow.dropped++;
        return;
      }
    } else if (len < 8 || msg[0]! >>> 6 !== 2) {
      flow.dropped++;
      return;
    }
    if (viaMux) {
      if (!this.latched) this.latch(rinfo);
    } else if (!this.rtcpLatched) {
      this.rtcpLatched = true;
      this.dstRtcpAddr = rinfo.address;
      this.dstRtcpPort = rinfo.port;
    }
    this.rxCount++;
    // This peer's reports describe what it receives: the flow toward it.
    const rb = lastReportBlock(msg, len);
    if (rb !== null) {
      this.flowOut.lost = rb.lost;
      this.flowOut.jitterMs = Math.round((rb.jitter / (this.other.clockRate || 8000)) * 1000 * 100) / 100;
    }
    const o = this.other;
    const sock = o.mux || o.rtcpSock === null ? o.rtpSock : o.rtcpSock;
    if (o.dstRtcpPort === 0 || (o.ice !== null && o.srtpOut === null)) {
      flow.dropped++;
      return;
    }
    flow.rtcpPackets++;
    const out = o.srtpOut;
    if (out === null) {
      sock.send(msg, 0, len, o.dstRtcpPort, o.dstRtcpAddr);
    } else {
      const buf = Buffer.allocUnsafe(len + out.rtcpOverhead);
      const n = out.protectRtcp(msg, len, buf);
      if (n > 0) sock.send(buf, 0, n, o.dstRtcpPort, o.dstRtcpAddr);
    }
  }

  private latch(rinfo: RemoteInfo): void {
    this.latched = true;
    this.dstAddr = rinfo.address;
    this.dstPort = rinfo.port;
    if (this.mux) {
      this.rtcpLatched = true;
      this.dstRtcpAddr = rinfo.address;
      this.dstRtcpPort = rinfo.port;
    }
  }
}

/** Links two legs of one stream. */
export function pairLegs(a: RelayLeg, b: RelayLeg): void {
  a.other = b;
  b.other = a;
}
