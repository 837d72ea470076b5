/**
 * The same MediaEngine over rtpengine's ng control protocol: each message is
 * `COOKIE SP bencoded-dictionary` over UDP, the reply carries the same
 * cookie. A request is resent with the same cookie (rtpengine answers a
 * repeated cookie from its cache, so a retry never runs a command twice)
 * until `tries` are spent; then the call fails with MediaError 503.
 *
 * Tags: leg a is tag `a`, leg b is tag `b`; an offer from b (a re-INVITE
 * from the callee) carries from-tag b and to-tag a, as rtpengine expects.
 * Codec restriction and the answer check run on our side (sdp/codecs.ts):
 * rtpengine gets the whole offer and its SDP toward the other leg is
 * restricted, so it knows every codec the offerer listed. The rest (ports,
 * SDES keys, latching) is rtpengine's.
 *
 * Timeouts: rtpengine does not call back, so established calls are polled
 * with `query`: a side whose streams' "last packet" is older than the
 * timeout (hold timeout when a stream is not sendrecv), or a call rtpengine
 * no longer knows (its own timeout removed it), is reported.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import { bdecode, bencode, type BValue } from './bencode.js';
import {
  type CallMediaStats,
  emptyStats,
  type FlowStats,
  type LegMediaOptions,
  type MediaEngine,
  otherSide,
  type Side,
} from './engine.js';
import { MediaError, notAcceptable, WARN } from './errors.js';
import { checkAnswerCodecs, type Codec, codecList, codecsOf, restrictCodecs } from './sdp/codecs.js';
import { describePeer, parseSdp, stripPeerAttributes } from './sdp/rewrite.js';
import { transcodeTargets, webrtcAnswerFlags, webrtcOfferFlags } from './rtpengine-webrtc.js';
import { writeSdp } from './sdp/writer.js';
import { cloneSdp } from './sdp/clone.js';

export interface RtpengineOptions {
  ng: { host: string; port: number };
  /** Wait per try, ms (default 500). */
  retryMs?: number;
  /** Tries per command (default 3). */
  tries?: number;
  /** Seconds without media before a side is reported; hold timeout for held calls. */
  timeout: number;
  holdTimeout: number;
  /** Poll interval for timeouts, ms (default: a quarter of the timeout, 1-10 s). */
  pollMs?: number;
  log?: Logger;
}

type Dict = { [key: string]: BValue };

interface Pending {
  msg: Buffer;
  tries: number;
  timer: NodeJS.Timeout;
  resolve: (d: Dict) => void;
  reject: (e: Error) => void;
}

/** The ng transport: commands in, replies out, with retries. */
export class NgClient {
  private readonly sock: Socket;
  private readonly pending = new Map<string, Pending>();
  private readonly prefix = randomBytes(4).toString('hex');
  private seq = 0;
  private readonly ready: Promise<void>;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly retryMs = 500,
    private readonly tries = 3,
  ) {
    this.sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    this.sock.on('message', (m) => this.onReply(m));
    this.sock.on('error', () => {});
    this.ready = new Promise((resolve) => this.sock.bind(0, host.includes(':') ? '::' : undefined, () => resolve()));
  }

  async command(dict: Dict): Promise<Dict> {
    await this.ready;
    const cookie = `${this.prefix}_${++this.seq}`;
    const msg = Buffer.concat([Buffer.from(`${cookie} `), bencode(dict)]);
    return new Promise<Dict>((resolve, reject) => {
      const p: Pending = { msg, tries: 1, resolve, reject, timer: setTimeout(() => this.retry(cookie), this.retryMs) };
      this.pending.set(cookie, p);
      this.sock.send(msg, this.port, this.host);
    });
  }

  private retry(cookie: string): void {
    const p = this.pending.get(cookie);
    if (p === undefined) return;
    if (p.tries >= this.tries) {
      this.pending.delete(cookie);
      p.reject(new MediaError(503, WARN.misc, `rtpengine at ${this.host}:${this.port} did not answer`));
      return;
    }
    p.tries++;
    p.timer = setTimeout(() => this.retry(cookie), this.retryMs);
    this.sock.send(p.msg, this.port, this.host);
  }

  private onReply(m: Buffer): void {
    const sp = m.indexOf(0x20);
    if (sp <= 0) return;
    const cookie = m.toString('latin1', 0, sp);
    const p = this.pending.get(cookie);
    if (p === undefined) return;
    this.pending.delete(cookie);
    clearTimeout(p.timer);
    try {
      const v = bdecode(m, sp + 1);
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('reply is not a dictionary');
      p.resolve(v);
    } catch (err) {
      p.reject(new MediaError(500, WARN.misc, `bad rtpengine reply: ${(err as Error).message}`));
    }
  }

  close(): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new MediaError(503, WARN.misc, 'media engine closed'));
    }
    this.pending.clear();
    this.sock.close();
  }
}

interface OfferCodecs {
  from: Side;
  codecs: Codec[][];
  offererCodecs: Codec[][];
  /** The offerer is a browser (DTLS-SRTP): the answer toward it keeps rtpengine's ICE and DTLS. */
  webrtcOfferer: boolean;
}

interface Call {
  sid: string;
  stats: CallMediaStats;
  /** Codecs of each m= section we sent toward the answerer, and those the offerer wrote, for the answer check. */
  offered: OfferCodecs | null;
  /** The offer last answered (a second answer to it, 183 then 200, is passed on again). */
  answered: OfferCodecs | null;
  established: boolean;
  held: boolean;
  answeredAt: number;
  timedOut: boolean;
}

/** rtpengine's SDES suites Trunkline does not offer (RFC 4568, RFC 6188, RFC 7714, and the NULL ones). */
const RTPENGINE_SDES_OFF = [
  'no-AEAD_AES_256_GCM',
  'no-AEAD_AES_128_GCM',
  'no-AES_256_CM_HMAC_SHA1_80',
  'no-AES_256_CM_HMAC_SHA1_32',
  'no-AES_192_CM_HMAC_SHA1_80',
  'no-AES_192_CM_HMAC_SHA1_32',
  'no-F8_128_HMAC_SHA1_80',
  'no-F8_128_HMAC_SHA1_32',
  'no-NULL_HMAC_SHA1_80',
  'no-NULL_HMAC_SHA1_32',
] as const;

export class RtpengineMediaEngine implements MediaEngine {
  readonly ng: NgClient;
  private readonly calls = new Map<string, Call>();
  private readonly cbs: ((sid: string, side: Side) => void)[] = [];
  private readonly timer: NodeJS.Timeout;
  private polling = false;

  constructor(private readonly opts: RtpengineOptions) {
    this.ng = new NgClient(opts.ng.host, opts.ng.port, opts.retryMs ?? 500, opts.tries ?? 3);
    const poll = opts.pollMs ?? Math.max(1000, Math.min(10_000, (opts.timeout * 1000) / 4));
    this.timer = setInterval(() => void this.poll(), poll);
    this.timer.unref();
  }

  /** Checks that rtpengine answers (`ping` -> `pong`). */
  async ping(): Promise<boolean> {
    const r = await this.ng.command({ command: 'ping' });
    return r.result === 'pong';
  }

  onTimeout(cb: (callSid: string, side: Side) => void): void {
    this.cbs.push(cb);
  }

  async offer(callSid: string, from: Side, sdp: string, toOther: LegMediaOptions): Promise<string> {
    const sd = parseSdp(sdp);
    const peers = describePeer(sd);
    const offererCodecs = sd.media.map((m) => codecsOf(m));
    const webrtc = toOther.webrtc === true || peers.some((p) => p.iceDtls !== null);
    // Checked here (no common codec: 488 before rtpengine is asked, unless a WebRTC leg's call
    // transcodes) and applied to rtpengine's SDP toward the other leg: rtpengine keeps the whole
    // offer, so an answer with a codec only the offerer listed (relayed by checkAnswerCodecs) is
    // answered to the offerer as it is.
    const transcode = webrtc ? transcodeTargets(sd, toOther) : [];
    if (!webrtc) for (const m of cloneSdp(sd.media)) if (Number(m.port) !== 0) restrictCodecs(m, toOther.codecs);
    stripPeerAttributes(sd);
    let call = this.calls.get(callSid);
    const isNew = call === undefined;
    if (call === undefined) {
      call = {
        sid: callSid,
        stats: emptyStats(),
        offered: null,
        answered: null,
        established: false,
        held: false,
        answeredAt: 0,
        timedOut: false,
      };
      this.calls.set(callSid, call);
    }
    const req: Dict = {
      command: 'offer',
      'call-id': callSid,
      'from-tag': from,
      sdp: writeSdp(sd),
      replace: ['origin', 'session-connection'],
      ICE: 'remove',
      flags: ['trust-address'],
    };
    if (call.established) req['to-tag'] = otherSide(from);
    if (toOther.profile !== 'as-offered') req['transport-protocol'] = toOther.profile;
    // SDES only: no DTLS-SRTP offered to a trunk (Trunkline's own relay does SDES only too),
    // and the suites the built-in relay offers, AES_CM_128_HMAC_SHA1_80 first (rtpengine
    // 10.5 would put AEAD_AES_256_GCM first, which baresip 1.0 and many SBCs lack), no NULL_HMAC.
    req.DTLS = 'off';
    req.SDES = [...RTPENGINE_SDES_OFF];
    webrtcOfferFlags(req, peers, toOther);
    if (transcode.length > 0) req.codec = { transcode };
    try {
      const out = await this.result(req);
      const outSd = parseSdp(out);
      for (const m of outSd.media) if (Number(m.port) !== 0) restrictCodecs(m, toOther.codecs);
      call.offered = {
        from,
        codecs: outSd.media.map((m) => codecsOf(m)),
        offererCodecs,
        webrtcOfferer: peers.some((p) => p.iceDtls !== null),
      };
      call.answered = null;
      return toOther.codecs.length === 0 ? out : writeSdp(outSd);
    } catch (err) {
      if (isNew) {
        this.calls.delete(callSid);
        await this.ng.command({ command: 'delete', 'call-id': callSid }).catch(() => undefined);
      }
      throw err;
    }
  }

  async answer(callSid: string, from: Side, sdp: string, toOther: LegMediaOptions): Promise<string> {
    const call = this.calls.get(callSid);
    if (call !== undefined && call.offered === null && call.answered?.from === otherSide(from))
      call.offered = call.answered;
    if (call === undefined || call.offered === null || call.offered.from !== otherSide(from)) {
      throw new MediaError(500, WARN.misc, 'answer without a pending offer from the other leg');
    }
    const sd = parseSdp(sdp);
    const peers = describePeer(sd);
    const offered = call.offered.codecs;
    if (sd.media.length !== offered.length)
      throw notAcceptable(WARN.misc, `answer has ${sd.media.length} m= lines, the offer had ${offered.length}`);
    const offererCodecs = call.offered.offererCodecs;
    sd.media.forEach((m, i) => {
      if (Number(m.port) === 0) return;
      // A format dropped by the check is taken out of sd, so rtpengine and the offerer never see it.
      const found = checkAnswerCodecs(m, offered[i]!, offererCodecs[i] ?? []);
      if (found.relayed.length + found.dropped.length > 0) {
        this.opts.log?.warn(
          {
            call: callSid,
            answerer: from,
            section: i,
            relayed: codecList(found.relayed),
            dropped: codecList(found.dropped),
          },
          'media: answer with codecs not offered to its leg (relayed: the other leg offered them; dropped: nobody did)',
        );
      }
    });
    const offerer = call.offered.from;
    const req: Dict = {
      command: 'answer',
      'call-id': callSid,
      'from-tag': offerer,
      'to-tag': from,
      sdp: (stripPeerAttributes(sd), writeSdp(sd)),
      replace: ['origin', 'session-connection'],
      ICE: 'remove',
      flags: ['trust-address'],
    };
    if (call.offered.webrtcOfferer) webrtcAnswerFlags(req);
    const out = await this.result(req);
    const outSd = parseSdp(out);
    for (const m of outSd.media) if (Number(m.port) !== 0) restrictCodecs(m, toOther.codecs);
    const outPeers = describePeer(outSd);
    call.held = [...peers, ...outPeers].some((p) => p.port !== 0 && p.direction !== 'sendrecv');
    call.answered = call.offered;
    call.offered = null;
    call.established = true;
    call.answeredAt = Date.now();
    call.timedOut = false;
    return toOther.codecs.length === 0 ? out : writeSdp(outSd);
  }

  async delete(callSid: string): Promise<CallMediaStats> {
    const call = this.calls.get(callSid);
    this.calls.delete(callSid);
    const stats = call?.stats ?? emptyStats();
    try {
      // The delete reply of rtpengine 10.5 carries no figures: query first.
      const q = await this.ng.command({ command: 'query', 'call-id': callSid });
      if (q.result === 'ok') readStats(q, stats);
      await this.ng.command({ command: 'delete', 'call-id': callSid });
    } catch (err) {
      this.opts.log?.warn({ err, call: callSid }, 'rtpengine delete failed');
    }
    return stats;
  }

  stats(callSid: string): CallMediaStats | null {
    const call = this.calls.get(callSid);
    return call === undefined
      ? null
      : { aToB: { ...call.stats.aToB }, bToA: { ...call.stats.bToA }, startedAt: call.stats.startedAt };
  }

  /** Refreshes a call's figures from rtpengine (`query`); returns the last-packet time per side (epoch s). */
  async query(callSid: string): Promise<{ a: number; b: number } | null> {
    const call = this.calls.get(callSid);
    const r = await this.ng.command({ command: 'query', 'call-id': callSid });
    if (r.result !== 'ok') return null;
    if (call !== undefined) readStats(r, call.stats);
    return lastPackets(r);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.calls.keys()].map((sid) => this.delete(sid)));
    this.ng.close();
  }

  private async result(req: Dict): Promise<string> {
    const r = await this.ng.command(req);
    if (r.result !== 'ok' || typeof r.sdp !== 'string') {
      const reason = typeof r['error-reason'] === 'string' ? r['error-reason'] : String(r.result);
      throw notAcceptable(WARN.misc, `rtpengine refused the SDP: ${reason.slice(0, 100)}`);
    }
    return r.sdp;
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const now = Date.now();
      for (const call of [...this.calls.values()]) {
        if (!call.established || call.timedOut) continue;
        let last: { a: number; b: number } | null;
        try {
          last = await this.query(call.sid);
        } catch {
          continue; // rtpengine unreachable: not the call's fault
        }
        const limit = (call.held ? this.opts.holdTimeout : this.opts.timeout) * 1000;
        let side: Side | null = null;
        if (last === null) side = 'a';
        else {
          // rtpengine stamps "last packet" in whole seconds: a packet stamped
          // second S may have come in at S + 0.999, so the side is silent
          // only from S + 1 + limit on. The staler side is the one reported.
          const quietSince = (s: Side): number => Math.max((last[s] + 1) * 1000, call.answeredAt);
          for (const s of ['a', 'b'] as const) {
            if (now - quietSince(s) >= limit && (side === null || quietSince(s) < quietSince(side))) side = s;
          }
        }
        if (side !== null && this.calls.get(call.sid) === call) {
          call.timedOut = true;
          for (const cb of this.cbs) cb(call.sid, side);
        }
      }
    } finally {
      this.polling = false;
    }
  }
}

const num = (v: BValue | undefined): number =>
  typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : 0;
const dict = (v: BValue | undefined): Dict | null =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? v : null;
const list = (v: BValue | undefined): BValue[] => (Array.isArray(v) ? v : []);

/** Streams of a tag in a query/delete reply. */
function tagStreams(r: Dict, tag: string): Dict[] {
  const t = dict(dict(r.tags)?.[tag]);
  const out: Dict[] = [];
  for (const m of list(t?.medias)) for (const s of list(dict(m)?.streams)) if (dict(s) !== null) out.push(dict(s)!);
  return out;
}

/** Per-tag received figures (what each side sent) into the call's flows. */
function readStats(r: Dict, stats: CallMediaStats): void {
  const fill = (tag: Side, flow: FlowStats): void => {
    let packets = 0;
    let bytes = 0;
    let errors = 0;
    let rtcp = 0;
    for (const s of tagStreams(r, tag)) {
      const st = dict(s.stats);
      if (
        s['rtcp'] === 'yes' ||
        s['RTCP'] === 'yes' ||
        (list(s.flags).includes('RTCP') && !list(s.flags).includes('RTP'))
      ) {
        rtcp += num(st?.packets);
        continue;
      }
      packets += num(st?.packets);
      bytes += num(st?.bytes);
      errors += num(st?.errors);
    }
    flow.packets = packets;
    flow.bytes = bytes;
    flow.dropped = errors;
    flow.rtcpPackets = rtcp;
  };
  fill('a', stats.aToB);
  fill('b', stats.bToA);
}

function lastPackets(r: Dict): { a: number; b: number } {
  const last = (tag: Side): number => Math.max(0, ...tagStreams(r, tag).map((s) => num(s['last packet'])));
  return { a: last('a'), b: last('b') };
}
