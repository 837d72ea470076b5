/**
 * The WebRTC side of one relay leg: ICE-lite and DTLS-SRTP on the leg's one
 * (rtcp-muxed) port. relay.ts hands it the STUN and DTLS datagrams of that
 * port (RFC 7983 demultiplexing by first byte).
 *
 * ICE-lite (RFC 8445 2.5): we never send checks; a Binding request that
 * passes the short-term credential check (stun.ts) is answered, and its
 * source becomes where the leg sends (the first one, then any that the
 * controlling agent nominates with USE-CANDIDATE).
 *
 * DTLS-SRTP (RFC 5763, RFC 5764): we are the DTLS server (a=setup:passive).
 * The handshake (werift-dtls) asks for the peer's certificate, which must
 * match the offer's a=fingerprint (RFC 5763 5); the use_srtp profile is
 * SRTP_AES128_CM_HMAC_SHA1_80 and the keys come from the exporter with
 * label EXTRACTOR-dtls_srtp (RFC 5764 4.2): the client's key is what the
 * peer sends with, the server's what we send with. Until then the leg
 * carries no media either way.
 */
import { randomBytes } from 'node:crypto';
import type { RemoteInfo } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../log.js';
import type { IceHandler, RelayLeg } from '../relay.js';
import { SrtpContext } from '../srtp/context.js';
import { type DtlsCertificate, fingerprintOf } from './certificate.js';
import { bindingSuccess, checkBindingRequest } from './stun.js';
import { DtlsServer, HashAlgorithm, SignatureAlgorithm } from './werift.js';

/** RFC 5764 4.1.2: SRTP_AES128_CM_HMAC_SHA1_80. */
const PROFILE_AES128_CM_SHA1_80 = 1;

/** What the peer's SDP says about its ICE and DTLS (RFC 8839, RFC 8842). */
export interface RemoteIceDtls {
  ufrag: string;
  pwd: string;
  fingerprint: { type: string; hash: string };
  setup: string;
}

export type IceDtlsState = 'new' | 'checked' | 'connected' | 'failed';

/** ice-char (RFC 8839 5.4): ALPHA / DIGIT / "+" / "/". */
function iceToken(bytes: number): string {
  return randomBytes(bytes).toString('base64').replace(/=+$/, '');
}

export class IceDtlsLeg implements IceHandler {
  readonly localUfrag = iceToken(6);
  /** At least 22 characters (RFC 8839 5.4). */
  readonly localPwd = iceToken(18);
  state: IceDtlsState = 'new';
  private dtls: DtlsServer | null = null;
  /** A handshake that ended before the peer's answer gave its fingerprint: checked when it does. */
  private unchecked: DtlsServer | null = null;
  private dtlsTransport: { onData: (data: Buffer, addr: readonly [string, number]) => void } | null = null;

  constructor(
    private readonly leg: RelayLeg,
    private readonly cert: DtlsCertificate,
    /** Null while our offer toward the peer waits for its answer. */
    private remote: RemoteIceDtls | null,
    private readonly log?: Logger,
    private readonly callSid = '',
  ) {
    leg.ice = this;
  }

  /** The peer's ICE/DTLS attributes (its offer, or its answer to ours). */
  setRemote(remote: RemoteIceDtls): void {
    this.remote = remote;
    const waiting = this.unchecked;
    this.unchecked = null;
    if (waiting !== null) this.onConnected(waiting);
  }

  onStun(msg: Buffer, rinfo: RemoteInfo): void {
    const v = checkBindingRequest(msg, this.localUfrag, this.localPwd);
    if (!v.ok) {
      this.leg.flowIn.dropped++;
      return;
    }
    this.leg.rtpSock.send(
      bindingSuccess(v.request, rinfo.address, rinfo.port, this.localPwd),
      rinfo.port,
      rinfo.address,
    );
    if (this.state === 'new') this.state = 'checked';
    if (!this.leg.latched || v.request.useCandidate) this.leg.iceLatch(rinfo);
  }

  onDtls(msg: Buffer, rinfo: RemoteInfo): void {
    // Only from the address ICE validated.
    if (!this.leg.latched || rinfo.address !== this.leg.dstAddr || rinfo.port !== this.leg.dstPort) {
      this.leg.flowIn.dropped++;
      return;
    }
    if (this.dtls === null) this.startDtls();
    this.dtlsTransport!.onData(msg, [rinfo.address, rinfo.port]);
  }

  close(): void {
    this.dtls?.close();
    this.dtls = null;
    this.unchecked = null;
    this.dtlsTransport = null;
    this.leg.ice = null;
  }

  private startDtls(): void {
    const leg = this.leg;
    const transport = {
      type: 'udp',
      address: leg.rtpSock.address() as AddressInfo,
      closed: false,
      onData: (_data: Buffer, _addr: readonly [string, number]): void => {},
      send: async (data: Buffer): Promise<void> => {
        if (leg.dstPort !== 0) leg.rtpSock.send(data, leg.dstPort, leg.dstAddr);
      },
      // The relay owns the socket: closing the DTLS session leaves it open.
      close: async (): Promise<void> => {},
    };
    this.dtlsTransport = transport;
    const server = new DtlsServer({
      transport,
      cert: this.cert.certPem,
      key: this.cert.keyPem,
      signatureHash: { hash: HashAlgorithm.sha256_4, signature: SignatureAlgorithm.ecdsa_3 },
      srtpProfiles: [PROFILE_AES128_CM_SHA1_80],
      certificateRequest: true,
      extendedMasterSecret: true,
    });
    this.dtls = server;
    server.onConnect.subscribe(() => this.onConnected(server));
    server.onError.subscribe((err: Error) => {
      this.log?.warn({ call: this.callSid, err: String(err) }, 'media: DTLS handshake failed');
      this.state = 'failed';
    });
  }

  /** The handshake is done: check the peer's certificate, then key SRTP both ways. */
  private onConnected(server: DtlsServer): void {
    if (this.dtls !== server) return;
    if (this.remote === null) {
      this.unchecked = server;
      return;
    }
    const cert = server.remoteCertificate;
    const want = this.remote.fingerprint;
    const algo = want.type.toLowerCase().replace('-', '');
    let got = '';
    try {
      if (cert !== undefined) got = fingerprintOf(cert, algo);
    } catch {
      got = '';
    }
    if (got === '' || got !== want.hash.toUpperCase()) {
      this.log?.warn({ call: this.callSid }, 'media: DTLS peer certificate does not match a=fingerprint (RFC 5763 5)');
      this.state = 'failed';
      return;
    }
    if (server.srtp.srtpProfile !== PROFILE_AES128_CM_SHA1_80) {
      this.log?.warn({ call: this.callSid }, 'media: DTLS use_srtp negotiated no profile the relay has');
      this.state = 'failed';
      return;
    }
    const k = server.extractSessionKeys(16, 14) as Record<
      'localKey' | 'localSalt' | 'remoteKey' | 'remoteSalt',
      Buffer
    >;
    this.leg.srtpIn = new SrtpContext('AES_CM_128_HMAC_SHA1_80', k.remoteKey, k.remoteSalt);
    this.leg.srtpOut = new SrtpContext('AES_CM_128_HMAC_SHA1_80', k.localKey, k.localSalt);
    this.state = 'connected';
    this.log?.debug({ call: this.callSid, side: this.leg.side }, 'media: DTLS-SRTP keys set');
  }
}
