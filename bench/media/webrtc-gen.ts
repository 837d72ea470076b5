/**
 * The browser side of the bench's `dtls` mode: per call a WebRTC offer
 * (UDP/TLS/RTP/SAVPF, ICE credentials, a=fingerprint, setup:actpass,
 * rtcp-mux, a host candidate), then, from the relay's answer, a nominating
 * ICE check (we are the controlling agent), the DTLS handshake in the role
 * the answer leaves us (werift-dtls, use_srtp SRTP_AES128_CM_HMAC_SHA1_80)
 * and the SRTP context keyed from it. The relay's own checks (rtpengine is a full ICE agent) are
 * answered with our credentials. Datagrams that are STUN or DTLS are taken
 * here; the rest is media for the counters.
 */
import { randomBytes } from 'node:crypto';
import type { RemoteInfo, Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { SrtpContext } from '../../src/media/srtp/context.js';
import { makeDtlsCertificate, type DtlsCertificate } from '../../src/media/webrtc/certificate.js';
import {
  bindingRequest,
  bindingSuccess,
  checkBindingRequest,
  successTransaction,
} from '../../src/media/webrtc/stun.js';
import { DtlsClient, DtlsServer, HashAlgorithm, SignatureAlgorithm } from '../../src/media/webrtc/werift.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class WebrtcGen {
  readonly ufrag = randomBytes(6).toString('hex');
  readonly pwd = randomBytes(16).toString('hex');
  private readonly checks = new Map<string, () => void>();
  private readonly dtls = new Map<string, (data: Buffer) => void>();
  /** DTLS records that came before their call's endpoint, replayed to it. */
  private readonly early = new Map<string, Buffer[]>();
  /** `ourPort:relayPort` pairs whose relay checked us (a full ICE agent: rtpengine). */
  private readonly checkedBy = new Set<string>();

  private constructor(private readonly cert: DtlsCertificate) {}

  static async create(): Promise<WebrtcGen> {
    return new WebrtcGen(await makeDtlsCertificate());
  }

  /** A datagram that reached generator socket `sock`: true when it was STUN or DTLS (handled here). */
  take(sock: Socket, msg: Buffer, r: RemoteInfo): boolean {
    const b = msg[0] ?? 255;
    if (b < 4) {
      const tx = successTransaction(msg);
      if (tx !== null) this.checks.get(tx.toString('hex'))?.();
      else {
        const v = checkBindingRequest(msg, this.ufrag, this.pwd);
        if (v.ok) {
          sock.send(bindingSuccess(v.request, r.address, r.port, this.pwd), r.port, r.address);
          this.checkedBy.add(`${sock.address().port}:${r.port}`);
        }
      }
      return true;
    }
    if (b >= 20 && b < 64) {
      const key = `${sock.address().port}:${r.port}`;
      const to = this.dtls.get(key);
      if (to !== undefined) to(Buffer.from(msg));
      else if (this.dtls.size < 10_000) {
        // A relay that is the DTLS client (rtpengine) may say ClientHello before its call is answered here.
        const early = this.early.get(key) ?? [];
        if (early.length < 8) early.push(Buffer.from(msg));
        this.early.set(key, early);
      }
      return true;
    }
    return false;
  }

  /** Our offer from generator port `port`. */
  offer(port: number): string {
    return [
      'v=0',
      'o=gen 1 1 IN IP4 127.0.0.1',
      's=-',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      'a=group:BUNDLE 0',
      `m=audio ${port} UDP/TLS/RTP/SAVPF 8 101`,
      'a=mid:0',
      `a=ice-ufrag:${this.ufrag}`,
      `a=ice-pwd:${this.pwd}`,
      `a=fingerprint:sha-256 ${this.cert.fingerprint.hash}`,
      'a=setup:actpass',
      'a=rtcp-mux',
      `a=candidate:1 1 udp 2130706431 127.0.0.1 ${port} typ host`,
      'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:101 telephone-event/8000',
      'a=sendrecv',
      '',
    ].join('\r\n');
  }

  /** ICE check and DTLS handshake from `sock` toward the relay's answer; the SRTP context we send with. */
  async connect(sock: Socket, answer: string): Promise<SrtpContext> {
    const port = Number(/^m=audio (\d+)/m.exec(answer)![1]);
    const ufrag = /^a=ice-ufrag:(\S+)/m.exec(answer)![1]!;
    const pwd = /^a=ice-pwd:(\S+)/m.exec(answer)![1]!;
    // Our offer said actpass: the relay's answer picks the roles (the built-in relay passive, rtpengine active).
    const weServe = /^a=setup:active/m.test(answer);
    const dtls = this.endpoint(sock, port, weServe);
    try {
      await this.check(sock, port, ufrag, pwd);
      // A full agent (no a=ice-lite) starts DTLS once its own check of us succeeded.
      const pair = `${sock.address().port}:${port}`;
      for (let i = 0; i < 40 && !/^a=ice-lite/m.test(answer) && !this.checkedBy.has(pair); i++) await sleep(50);
      this.checkedBy.delete(pair);
      if (dtls instanceof DtlsClient) void dtls.connect();
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`DTLS handshake with port ${port} timed out`)), 10_000);
        const done = (): void => {
          clearTimeout(t);
          resolve();
        };
        if (dtls.connected) done();
        else dtls.onConnect.subscribe(done);
      });
    } finally {
      this.dtls.delete(`${sock.address().port}:${port}`);
    }
    const k = dtls.extractSessionKeys(16, 14) as Record<'localKey' | 'localSalt', Buffer>;
    return new SrtpContext('AES_CM_128_HMAC_SHA1_80', k.localKey, k.localSalt);
  }

  /** Our DTLS side toward the relay's `port`, its datagrams routed to it from now on. */
  private endpoint(sock: Socket, port: number, serve: boolean): DtlsClient | DtlsServer {
    const transport = {
      type: 'udp',
      address: sock.address() as AddressInfo,
      closed: false,
      onData: (_d: Buffer, _a: readonly [string, number]): void => {},
      send: async (data: Buffer): Promise<void> => void sock.send(data, port, '127.0.0.1'),
      close: async (): Promise<void> => {},
    };
    const key = `${sock.address().port}:${port}`;
    this.dtls.set(key, (d) => transport.onData(d, ['127.0.0.1', port]));
    const early = this.early.get(key) ?? [];
    this.early.delete(key);
    // After the constructors below set transport.onData.
    setImmediate(() => {
      for (const d of early) transport.onData(d, ['127.0.0.1', port]);
    });
    const options = {
      transport,
      cert: this.cert.certPem,
      key: this.cert.keyPem,
      signatureHash: { hash: HashAlgorithm.sha256_4, signature: SignatureAlgorithm.ecdsa_3 },
      srtpProfiles: [1 as const],
      extendedMasterSecret: true,
    };
    return serve ? new DtlsServer(options) : new DtlsClient(options);
  }

  private async check(sock: Socket, port: number, ufrag: string, pwd: string): Promise<void> {
    const transactionId = randomBytes(12);
    const key = transactionId.toString('hex');
    let done = false;
    this.checks.set(key, () => (done = true));
    const req = bindingRequest({ username: `${ufrag}:${this.ufrag}`, pwd, priority: 2130706431, transactionId });
    try {
      for (let i = 0; i < 40 && !done; i++) {
        sock.send(req, port, '127.0.0.1');
        await sleep(50);
      }
    } finally {
      this.checks.delete(key);
    }
    if (!done) throw new Error(`no answer to the ICE check at port ${port}`);
  }
}
