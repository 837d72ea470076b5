/**
 * The built-in media engine: anchors each call's media on Trunkline's own
 * UDP ports (relay.ts) and rewrites the SDP of both legs (sdp/rewrite.ts).
 *
 * Offer/answer (RFC 3264): an offer from leg X is checked (transport, SDES
 * crypto, codecs restricted for leg Y), ports are bound for both legs of
 * every m= section, and the SDP for Y is written with Y's ports and, for an
 * SRTP leg, fresh keys. Nothing changes on the relay until the answer: then
 * both legs get their peer's address, SRTP contexts (new keys per leg, RFC
 * 4568: each side's a=crypto is the key it sends with) and the SDP for X is
 * written. A re-offer (re-INVITE/UPDATE: hold, resume, new address or ports,
 * from either side) reuses the call's ports and keeps SRTP contexts whose
 * keys did not change, so the call goes on.
 *
 * Timeouts: a timer compares each side's received-packet counters; a side
 * silent for `timeout` s (`holdTimeout` when a stream is on hold or
 * inactive) is reported once to the onTimeout callbacks.
 */
import { isIP } from 'node:net';
import type { SessionDescription } from 'sdp-transform';
import type { Logger } from '../log.js';
import {
  type CallMediaStats,
  emptyStats,
  type LegMediaOptions,
  type MediaEngine,
  otherSide,
  type Side,
} from './engine.js';
import { MediaError, notAcceptable, WARN } from './errors.js';
import { bindOne, bindPorts, PortAllocator } from './ports.js';
import { pairLegs, RelayLeg } from './relay.js';
import { codecsOf, telephoneEventPts } from './sdp/codecs.js';
import { formatCryptoLine, newSdesKey, type SdesKey } from './sdp/crypto-attr.js';
import { checkAnswer, type CheckedAnswer, offerKeys, offerToward, type PendingOffer } from './offer-answer.js';
import {
  describePeer,
  parseSdp,
  type PeerMedia,
  type SectionPlan,
  type Transport,
  DTLS_SRTP,
  writeLegSdp,
} from './sdp/rewrite.js';
import { boundAddress, sameHost, setContexts, snapshot } from './stream-keys.js';
import { newSession, type Session } from './session.js';
import { makeDtlsCertificate, type DtlsCertificate } from './webrtc/certificate.js';
import { attachIceDtls, iceDtlsAnswerPlan, iceDtlsOfferPlan } from './webrtc/attach.js';
import { cloneSdp } from './sdp/clone.js';

export interface BuiltinMediaOptions {
  /** Address the relay's sockets bind to. */
  address: string;
  /** Address written in SDP (c=, o=, a=rtcp) when the relay is behind NAT; default `address`. */
  advertise?: string;
  ports: { min: number; max: number };
  /** Seconds without media from a side before the call is reported (may be fractional in tests). */
  timeout: number;
  /** The same for a call with a stream on hold (sendonly/recvonly/inactive). */
  holdTimeout: number;
  /** SO_RCVBUF/SO_SNDBUF for the relay sockets; default 256 KiB. */
  socketBufferBytes?: number;
  log?: Logger;
}

const SIDES: readonly Side[] = ['a', 'b'];

export class BuiltinMediaEngine implements MediaEngine {
  readonly ports: PortAllocator;
  private readonly sessions = new Map<string, Session>();
  private readonly timeoutCbs: ((sid: string, side: Side) => void)[] = [];
  /** The media-timeout check: runs only while there are sessions (no wake-up with no call). */
  private timer: NodeJS.Timeout | null = null;
  private readonly tickMs: number;
  private readonly advertise: string;
  private readonly sockOpts: { bufferBytes: number };
  private closed = false;
  /** The DTLS certificate, made on the first offer from or toward a WebRTC leg. */
  private certificate: Promise<DtlsCertificate> | null = null;
  private cert: DtlsCertificate | null = null;

  constructor(private readonly opts: BuiltinMediaOptions) {
    if (isIP(opts.address) === 0) throw new RangeError(`media address ${opts.address} is not an IP address`);
    this.ports = new PortAllocator(opts.ports.min, opts.ports.max);
    this.advertise = opts.advertise ?? opts.address;
    this.sockOpts = { bufferBytes: opts.socketBufferBytes ?? 256 * 1024 };
    this.tickMs = Math.max(50, Math.min(1000, (Math.min(opts.timeout, opts.holdTimeout) * 1000) / 4));
  }

  /** Whether the media-timeout check is scheduled (tests: it stops with the last call). */
  get ticking(): boolean {
    return this.timer !== null;
  }

  /** Calls with media state (tests, `trunkline calls`). */
  get callCount(): number {
    return this.sessions.size;
  }

  onTimeout(cb: (callSid: string, side: Side) => void): void {
    this.timeoutCbs.push(cb);
  }

  offer(callSid: string, from: Side, sdp: string, toOther: LegMediaOptions): Promise<string> {
    if (this.closed) return Promise.reject(new MediaError(503, WARN.misc, 'media engine closed'));
    let s = this.sessions.get(callSid);
    const isNew = s === undefined;
    if (s === undefined) {
      s = newSession(callSid);
      this.sessions.set(callSid, s);
      this.startTimer();
    }
    const session = s;
    return this.serial(session, async () => {
      try {
        return await this.doOffer(session, from, sdp, toOther);
      } catch (err) {
        if (isNew) this.release(session);
        throw err;
      }
    });
  }

  answer(callSid: string, from: Side, sdp: string, toOther: LegMediaOptions): Promise<string> {
    const s = this.sessions.get(callSid);
    if (s === undefined) return Promise.reject(new MediaError(500, WARN.misc, 'answer for a call without media'));
    return this.serial(s, () => this.doAnswer(s, from, sdp, toOther));
  }

  async delete(callSid: string): Promise<CallMediaStats> {
    const s = this.sessions.get(callSid);
    if (s === undefined) return emptyStats();
    this.release(s);
    return snapshot(s.stats);
  }

  /** Figures of every call (the worker pushes them to the main thread). */
  allStats(): Record<string, CallMediaStats> {
    const out: Record<string, CallMediaStats> = {};
    for (const [sid, s] of this.sessions) out[sid] = snapshot(s.stats);
    return out;
  }

  stats(callSid: string): CallMediaStats | null {
    const s = this.sessions.get(callSid);
    return s === undefined ? null : snapshot(s.stats);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of [...this.sessions.values()]) this.release(s);
    this.stopTimer();
  }

  private startTimer(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.checkTimeouts(), this.tickMs);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
  }

  private serial<T>(s: Session, fn: () => Promise<T>): Promise<T> {
    const run = s.queue.then(fn, fn);
    s.queue = run.catch(() => undefined);
    return run;
  }

  /** Where the sockets of a side bind. */
  private bindOf(s: Session, side: Side): string {
    return s.sides[side]?.bind ?? this.opts.address;
  }

  /** The address a side's SDP shows. */
  private sdpAddressOf(s: Session, side: Side): string {
    return s.sides[side]?.sdp ?? this.advertise;
  }

  private async doOffer(s: Session, from: Side, sdp: string, toOther: LegMediaOptions): Promise<string> {
    const to = otherSide(from);
    if (toOther.sides !== undefined) s.sides = toOther.sides;
    const sd = parseSdp(sdp);
    const peers = describePeer(sd);
    const offerKey = offerKeys(peers, isIP(this.bindOf(s, from)));
    if (s.established && s.streams.length > peers.length) {
      throw notAcceptable(WARN.misc, 'offer removes m= lines');
    }
    const { outSd, toward, codecs } = offerToward(sd, peers, toOther);
    if (!s.established) this.rebindMovedSections(s);
    await this.bindSections(s, from, peers, toward);
    if (peers.some((p) => p.iceDtls !== null) || toward.includes(DTLS_SRTP)) {
      const cert = (this.cert = await (this.certificate ??= makeDtlsCertificate()));
      for (const p of peers) {
        const legs = s.streams[p.index]?.legs;
        if (legs == null) continue;
        attachIceDtls(legs[from], p, cert, this.opts.log, s.sid);
        if (toward[p.index] === DTLS_SRTP) attachIceDtls(legs[to], null, cert, this.opts.log, s.sid);
      }
    }
    const { plans, offeredKeys } = this.offerPlans(s, to, peers, toward);
    const body = writeLegSdp(outSd, plans, this.sdpAddressOf(s, to), s.origins[to]);
    const offererCodecs = sd.media.map((m) => codecsOf(m));
    s.pending = {
      from,
      peers,
      offerKey,
      toward,
      codecs,
      offererCodecs,
      offeredKeys,
      // Toward a WebRTC leg rtcp-mux is offered whatever the offerer did.
      offeredMux: peers.map((p, i) => p.rtcpMux || toward[i] === DTLS_SRTP),
    };
    s.answered = null;
    return body;
  }

  /** A new attempt toward another network before the answer: the sections whose ports are not on the sides' addresses give them up (bound again by bindSections). */
  private rebindMovedSections(s: Session): void {
    for (const st of s.streams) {
      if (st?.legs == null) continue;
      if (
        sameHost(boundAddress(st.legs.a), this.bindOf(s, 'a')) &&
        sameHost(boundAddress(st.legs.b), this.bindOf(s, 'b'))
      )
        continue;
      this.freeLeg(st.legs.a);
      this.freeLeg(st.legs.b);
      st.legs = null;
    }
  }

  /** Ports for both legs of every accepted section (kept from earlier offers of the call); on a failure, the ports bound here are freed. */
  private async bindSections(
    s: Session,
    from: Side,
    peers: readonly PeerMedia[],
    toward: readonly Transport[],
  ): Promise<void> {
    const to = otherSide(from);
    const created: RelayLeg[] = [];
    try {
      for (const p of peers) {
        const st = s.streams[p.index];
        if (p.port === 0) continue;
        if (st?.legs != null) continue;
        const legFrom = await this.newLeg(s, from, p.rtcpMux, created);
        const legTo = await this.newLeg(s, to, toward[p.index] === DTLS_SRTP, created);
        pairLegs(legFrom, legTo);
        const legs = { [from]: legFrom, [to]: legTo } as Record<Side, RelayLeg>;
        s.streams[p.index] = {
          index: p.index,
          legs,
          outKey: { a: null, b: null },
          inKey: { a: null, b: null },
          held: false,
        };
      }
      for (const p of peers) {
        const legs = s.streams[p.index]?.legs;
        // The leg toward the answerer keeps an RTCP port: the fallback when it declines rtcp-mux (RFC 5761 5.1.3).
        // A WebRTC leg is always muxed.
        if (p.port !== 0 && legs != null && legs[to].rtcpSock === null && toward[p.index] !== DTLS_SRTP)
          await this.addRtcp(legs[to]);
      }
    } catch (err) {
      for (const leg of created) this.freeLeg(leg);
      for (const st of s.streams) if (st?.legs != null && created.includes(st.legs.a)) st.legs = null;
      throw err;
    }
  }

  /** Each section of the offer toward `to`: its ports and, for SRTP, our keys (the current one kept, else two fresh suites). */
  private offerPlans(
    s: Session,
    to: Side,
    peers: readonly PeerMedia[],
    toward: readonly Transport[],
  ): { plans: SectionPlan[]; offeredKeys: SdesKey[][] } {
    const offeredKeys: SdesKey[][] = [];
    const plans: SectionPlan[] = peers.map((p, i) => {
      const st = s.streams[i];
      const keys: SdesKey[] = [];
      offeredKeys.push(keys);
      if (p.port === 0 || st?.legs == null) {
        return { port: 0, rtcpPort: null, rtcpMux: false, transport: toward[i]!, crypto: [] };
      }
      const leg = st.legs[to];
      if (toward[i] === DTLS_SRTP) return iceDtlsOfferPlan(leg, i, this.sdpAddressOf(s, to), this.cert!);
      if (toward[i] === 'RTP/SAVP' || toward[i] === 'RTP/SAVPF') {
        const current = st.outKey[to];
        if (current !== null) keys.push({ ...current, tag: 1 });
        else keys.push(newSdesKey(1, 'AES_CM_128_HMAC_SHA1_80'), newSdesKey(2, 'AES_CM_128_HMAC_SHA1_32'));
      }
      return {
        port: leg.rtpPort,
        rtcpPort: leg.rtcpPort,
        rtcpMux: p.rtcpMux,
        transport: toward[i]!,
        crypto: keys.map(formatCryptoLine),
      };
    });
    return { plans, offeredKeys };
  }

  private async doAnswer(s: Session, from: Side, sdp: string, toOther: LegMediaOptions): Promise<string> {
    const pend = s.pending ?? s.answered;
    if (pend === null || pend.from !== otherSide(from))
      throw new MediaError(500, WARN.misc, 'answer without a pending offer from the other leg');
    const offerer = pend.from;
    if (toOther.sides !== undefined) s.sides = toOther.sides;
    const sd = parseSdp(sdp);
    const peers = describePeer(sd);
    if (peers.length !== pend.peers.length) {
      throw notAcceptable(WARN.misc, `answer has ${peers.length} m= lines, the offer had ${pend.peers.length}`);
    }
    // Check everything before changing the relay.
    const ansSd = cloneSdp(sd);
    const checked = checkAnswer(pend, peers, ansSd, isIP(this.bindOf(s, from)), toOther);
    for (const t of checked.tolerated) {
      this.opts.log?.warn(
        { call: s.sid, answerer: from, ...t },
        'media: answer with codecs not offered to its leg (relayed: the other leg offered them; dropped: nobody did)',
      );
    }
    // Commit: legs learn their peers and keys.
    const plans: SectionPlan[] = [];
    for (let i = 0; i < peers.length; i++)
      plans.push(await this.commitSection(s, pend, i, peers[i]!, sd, from, checked));
    s.pending = null;
    s.answered = pend;
    s.established = true;
    s.timedOut = false;
    const now = Date.now();
    s.lastSeen = { a: now, b: now };
    return writeLegSdp(ansSd, plans, this.sdpAddressOf(s, offerer), s.origins[offerer]);
  }

  /**
   * Section `i` of an answered offer: both legs get their peer's address,
   * RTCP ports as muxed or not, SRTP contexts and DTMF payload types; a
   * section refused on either side gives up its ports. Returns the section
   * as written back to the offerer.
   */
  private async commitSection(
    s: Session,
    pend: PendingOffer,
    i: number,
    ans: PeerMedia,
    sd: SessionDescription,
    from: Side,
    checked: CheckedAnswer,
  ): Promise<SectionPlan> {
    const offerer = pend.from;
    const off = pend.peers[i]!;
    const st = s.streams[i];
    if (st?.legs == null || ans.port === 0 || off.port === 0) {
      if (st?.legs != null) {
        this.freeLeg(st.legs.a);
        this.freeLeg(st.legs.b);
        st.legs = null;
      }
      return { port: 0, rtcpPort: null, rtcpMux: false, transport: off.transport, crypto: [] };
    }
    const legX = st.legs[offerer];
    const legY = st.legs[from];
    const muxY = ans.rtcpMux && pend.offeredMux[i]!;
    legX.setPeer(off.address, off.port, off.rtcpAddress, off.rtcpPort, off.rtcpMux);
    legY.setPeer(ans.address, ans.port, ans.rtcpAddress, ans.rtcpPort, muxY);
    if (off.rtcpMux && legX.rtcpSock !== null) this.ports.free(legX.dropRtcp() ?? -1);
    if (muxY && legY.rtcpSock !== null) this.ports.free(legY.dropRtcp() ?? -1);
    if (!off.rtcpMux && legX.rtcpSock === null) await this.addRtcp(legX);
    legX.raw = legY.raw = off.transport === 'udptl';
    // SRTP toward the offerer: keep our key when the suite is unchanged.
    let keyToX: SdesKey | null = null;
    if (off.srtp) {
      const chosen = pend.offerKey[i]!;
      const cur = st.outKey[offerer];
      keyToX =
        cur !== null && cur.suite === chosen.suite ? { ...cur, tag: chosen.tag } : newSdesKey(chosen.tag, chosen.suite);
    }
    // A WebRTC leg's keys come from its DTLS handshake (webrtc/ice-dtls.ts).
    if (legX.ice === null) setContexts(st, legX, offerer, pend.offerKey[i] ?? null, keyToX);
    if (legY.ice === null)
      setContexts(st, legY, from, checked.answerKey[i] ?? null, checked.ourKeyToAnswerer[i] ?? null);
    else if (this.cert !== null) attachIceDtls(legY, ans, this.cert, this.opts.log, s.sid);
    const all = [...codecsOf(sd.media[i]!), ...pend.codecs[i]!];
    const te = telephoneEventPts(all);
    for (const leg of [legX, legY]) {
      leg.tePt1 = te[0] ?? -1;
      leg.tePt2 = te[1] ?? -1;
      leg.clockRate = all[0]?.rate ?? 8000;
    }
    st.held = off.direction !== 'sendrecv' || ans.direction !== 'sendrecv';
    if (off.iceDtls !== null) return iceDtlsAnswerPlan(legX, off, this.sdpAddressOf(s, offerer), this.cert!);
    return {
      port: legX.rtpPort,
      rtcpPort: legX.rtcpPort,
      rtcpMux: off.rtcpMux,
      transport: off.transport,
      crypto: keyToX === null ? [] : [formatCryptoLine(keyToX)],
    };
  }

  private async newLeg(s: Session, side: Side, mux: boolean, created: RelayLeg[]): Promise<RelayLeg> {
    const b = await bindPorts(this.ports, this.bindOf(s, side), mux, this.sockOpts);
    const flowIn = side === 'a' ? s.stats.aToB : s.stats.bToA;
    const flowOut = side === 'a' ? s.stats.bToA : s.stats.aToB;
    const leg = new RelayLeg(side, b.rtp, b.rtpPort, flowIn, flowOut);
    if (b.rtcp !== null && b.rtcpPort !== null) leg.attachRtcp(b.rtcp, b.rtcpPort);
    created.push(leg);
    return leg;
  }

  private async addRtcp(leg: RelayLeg): Promise<void> {
    const one = await bindOne(this.ports, boundAddress(leg), this.sockOpts);
    leg.attachRtcp(one.sock, one.port);
  }

  private freeLeg(leg: RelayLeg): void {
    leg.close();
    this.ports.free(leg.rtpPort);
    if (leg.rtcpPort !== null) this.ports.free(leg.rtcpPort);
  }

  /** Closes every socket of the call and frees its ports. */
  private release(s: Session): void {
    for (const st of s.streams) {
      if (st?.legs != null) {
        this.freeLeg(st.legs.a);
        this.freeLeg(st.legs.b);
        st.legs = null;
      }
    }
    s.streams = [];
    if (this.sessions.get(s.sid) === s) this.sessions.delete(s.sid);
    if (this.sessions.size === 0) this.stopTimer();
  }

  private checkTimeouts(): void {
    const now = Date.now();
    for (const s of this.sessions.values()) {
      if (!s.established || s.timedOut) continue;
      let active = false;
      let held = false;
      const count = { a: 0, b: 0 };
      for (const st of s.streams) {
        if (st?.legs == null) continue;
        active = true;
        held ||= st.held;
        count.a += st.legs.a.rxCount;
        count.b += st.legs.b.rxCount;
      }
      if (!active) continue;
      const limitMs = (held ? this.opts.holdTimeout : this.opts.timeout) * 1000;
      for (const side of SIDES) {
        if (count[side] !== s.lastCount[side]) {
          s.lastCount[side] = count[side];
          s.lastSeen[side] = now;
        } else if (now - s.lastSeen[side] >= limitMs) {
          s.timedOut = true;
          this.opts.log?.info({ call: s.sid, side, held }, 'media timeout');
          for (const cb of this.timeoutCbs) {
            try {
              cb(s.sid, side);
            } catch (err) {
              this.opts.log?.error({ err, call: s.sid }, 'media timeout callback failed');
            }
          }
          break;
        }
      }
    }
  }
}
