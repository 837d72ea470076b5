/**
 * bench/media's `transcode` mode: rtpengine's CPU per transcoded call.
 *
 * Per call, leg a offers Opus only (opus/48000/2) and leg b answers PCMA
 * only; the offer carries the ng flag Trunkline sends when the legs share
 * no codec (`codec: {transcode: ['PCMA']}`, src/media/rtpengine-webrtc.ts),
 * so rtpengine decodes and encodes every packet. Leg b sends PCMA (160-byte
 * payload) at `--pps`; leg a sends Opus packets that rtpengine itself
 * encoded (captured from one call's PCMA->Opus direction before the steps,
 * then replayed with our own SSRC, sequence numbers and timestamps), so
 * both directions transcode. The same generator then runs plain PCMA on
 * both legs through the same rtpengine at the same call count: the ratio
 * of the two is the cost of transcoding.
 *
 * Transcoding is checked, not assumed: packets reaching leg a must carry
 * the Opus payload type rtpengine answered and not be 160-byte payloads;
 * packets reaching leg b must be PCMA (payload type 8).
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import type { BValue } from '../../src/media/bencode.js';
import { NgClient } from '../../src/media/rtpengine.js';
import { readProcStat } from '../common/procstat.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const OPUS_PT = 111;
const PCMA_PT = 8;

export interface TranscodeOptions {
  ngPort: number;
  pid: number;
  hz: number;
  pps: number;
  seconds: number;
  warmup: number;
}

/** What arrived on one leg in a step's window. */
interface Arrivals {
  packets: number;
  /** Packets with the payload type the leg expects (Opus on leg a when transcoding, else PCMA). */
  expectedPt: number;
  payloadBytes: number;
  /** Packets whose payload is 160 bytes (a PCMA 20 ms frame). */
  pcmaSized: number;
}

export interface TranscodeSide {
  sent: number;
  received: number;
  lossPct: number;
  cpuPct: number;
  /** Measured: CPU % over the calls of the step (low when the step is saturated and packets are lost). */
  cpuPctPerCall: number;
  cpuUsPerPacket: number;
  /** CPU % a call at the full rate costs at this per-packet figure (2 x pps packets a second). */
  cpuPctPerCallAtRate: number;
  /** More than 1% of the packets lost: rtpengine (one thread) did not keep up; only the per-packet figure holds. */
  saturated: boolean;
}

export interface TranscodeResult {
  calls: number;
  seconds: number;
  /** `both`: leg a sends captured Opus too; `pcma-to-opus`: no Opus could be captured, leg b only. */
  directions: 'both' | 'pcma-to-opus';
  plain: TranscodeSide;
  transcode: TranscodeSide;
  /** transcode / plain: CPU per call (at the full rate, from the per-packet figures) and per packet. */
  ratioPerCall: number | null;
  ratioPerPacket: number | null;
  /** Leg a in the transcode step: Opus payload type, packets with it, mean payload bytes, 160-byte payloads. */
  opusSide: { pt: number; packets: number; withOpusPt: number; meanPayload: number; pcmaSized: number };
  /** Leg b in the transcode step: packets, with payload type 8, mean payload bytes. */
  pcmaSide: { packets: number; withPcmaPt: number; meanPayload: number };
  /** Transcoding seen both ways it was sent (Opus at leg a, PCMA at leg b). */
  transcoded: boolean;
  load: number;
}

type Dict = { [key: string]: BValue };

function sdp(port: number, opus: boolean): string {
  return [
    'v=0',
    'o=gen 1 1 IN IP4 127.0.0.1',
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${port} RTP/AVP ${opus ? OPUS_PT : PCMA_PT}`,
    opus ? `a=rtpmap:${OPUS_PT} opus/48000/2` : `a=rtpmap:${PCMA_PT} PCMA/8000`,
    'a=ptime:20',
    'a=sendrecv',
    '',
  ].join('\r\n');
}

const mPort = (s: string): number => Number(/^m=audio (\d+)/m.exec(s)![1]);
const mFirstPt = (s: string): number => Number(/^m=audio \d+ \S+ (\d+)/m.exec(s)![1]);

interface Call {
  sid: string;
  sa: Socket;
  sb: Socket;
  toA: number;
  toB: number;
  ssrcA: number;
  ssrcB: number;
  seq: number;
}

class Legs {
  readonly a: Socket[] = [];
  readonly b: Socket[] = [];
  rxA: Arrivals = empty();
  rxB: Arrivals = empty();
  /** Leg a's expected payload type (the Opus one when transcoding). */
  ptA = PCMA_PT;
  /** Opus payloads seen at leg a while capturing. */
  capture: Buffer[] | null = null;

  static async open(n: number): Promise<Legs> {
    const l = new Legs();
    for (let i = 0; i < n; i++) {
      l.a.push(await bind((m) => l.onA(m)));
      l.b.push(await bind((m) => count(l.rxB, m, PCMA_PT)));
    }
    return l;
  }
  private onA(m: Buffer): void {
    count(this.rxA, m, this.ptA);
    if (this.capture !== null && m.length > 12 && (m[1]! & 0x7f) === this.ptA && this.capture.length < 200)
      this.capture.push(Buffer.from(m.subarray(12)));
  }
  close(): void {
    for (const s of [...this.a, ...this.b]) s.close();
  }
}

function empty(): Arrivals {
  return { packets: 0, expectedPt: 0, payloadBytes: 0, pcmaSized: 0 };
}

function count(rx: Arrivals, m: Buffer, pt: number): void {
  if (m.length < 12 || m[0]! >> 6 !== 2) return;
  rx.packets++;
  if ((m[1]! & 0x7f) === pt) rx.expectedPt++;
  rx.payloadBytes += m.length - 12;
  if (m.length - 12 === 160) rx.pcmaSized++;
}

function bind(onMessage: (m: Buffer) => void): Promise<Socket> {
  return new Promise((resolve) => {
    const s = createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
    s.on('message', onMessage);
    s.bind(0, '127.0.0.1', () => resolve(s));
  });
}

async function ngResult(ng: NgClient, req: Dict): Promise<Dict> {
  const r = await ng.command(req);
  if (r.result !== 'ok') throw new Error(`rtpengine ${String(req.command)}: ${String(r['error-reason'] ?? r.result)}`);
  return r;
}

/** One call through rtpengine: Opus at leg a when `transcode`, else PCMA on both legs. */
async function setupCall(ng: NgClient, legs: Legs, i: number, transcode: boolean, tag: string): Promise<Call> {
  const sa = legs.a[i % legs.a.length]!;
  const sb = legs.b[i % legs.b.length]!;
  const sid = `bench-${tag}-${i}`;
  const common = { 'call-id': sid, replace: ['origin', 'session-connection'], ICE: 'remove', flags: ['trust-address'] };
  const offerReq: Dict = { command: 'offer', 'from-tag': 'a', sdp: sdp(sa.address().port, transcode), ...common };
  // The flag Trunkline's offer carries when a leg's codecs are not offered (src/media/rtpengine.ts).
  if (transcode) offerReq.codec = { transcode: ['PCMA'] };
  const offer = String((await ngResult(ng, offerReq)).sdp);
  const answerReq: Dict = { command: 'answer', 'from-tag': 'a', 'to-tag': 'b', sdp: sdp(sb.address().port, false) };
  const answer = String((await ngResult(ng, { ...answerReq, ...common })).sdp);
  if (transcode) legs.ptA = mFirstPt(answer);
  const ssrc = (): number => (Math.random() * 0xffffffff) >>> 0;
  return { sid, sa, sb, toA: mPort(answer), toB: mPort(offer), ssrcA: ssrc(), ssrcB: ssrc(), seq: 1 };
}

const PCMA = randomBytes(160);

/** One packet each way for call c; leg a sends `opus[k]` (48 kHz clock) when given, else PCMA. */
function sendPair(c: Call, opus: Buffer[] | null, aSends: boolean): number {
  const seq = c.seq++;
  const pb = Buffer.allocUnsafe(172);
  pb[0] = 0x80;
  pb[1] = PCMA_PT;
  pb.writeUInt16BE(seq & 0xffff, 2);
  pb.writeUInt32BE((seq * 160) >>> 0, 4);
  pb.writeUInt32BE(c.ssrcB, 8);
  PCMA.copy(pb, 12);
  c.sb.send(pb, c.toB, '127.0.0.1');
  if (!aSends) return 1;
  let pa: Buffer;
  if (opus !== null) {
    const payload = opus[seq % opus.length]!;
    pa = Buffer.allocUnsafe(12 + payload.length);
    payload.copy(pa, 12);
    pa[1] = OPUS_PT;
    pa.writeUInt32BE((seq * 960) >>> 0, 4);
  } else {
    pa = Buffer.from(pb);
    pa.writeUInt32BE((seq * 160) >>> 0, 4);
  }
  pa[0] = 0x80;
  pa.writeUInt16BE(seq & 0xffff, 2);
  pa.writeUInt32BE(c.ssrcA, 8);
  c.sa.send(pa, c.toA, '127.0.0.1');
  return 2;
}

/** rtpengine's own Opus: one transcoded call, PCMA sent from leg b for `ms`, Opus payloads kept at leg a. */
async function captureOpus(ng: NgClient, legs: Legs, ms: number): Promise<Buffer[]> {
  const c = await setupCall(ng, legs, 0, true, 'capture');
  legs.capture = [];
  for (let t = 0; t < ms; t += 20) {
    sendPair(c, null, false);
    await sleep(20);
  }
  await sleep(100);
  const got = legs.capture;
  legs.capture = null;
  await ngResult(ng, { command: 'delete', 'call-id': c.sid });
  return got.filter((p) => p.length !== 160 && p.length > 0);
}

/** Sends one packet each way per call at `pps` for warmup + seconds, paced by the clock; CPU and arrivals of the window. */
async function pace(calls: Call[], opus: Buffer[] | null, aSends: boolean, o: TranscodeOptions, legs: Legs) {
  let sent = 0;
  let pairs = 0;
  let cursor = 0;
  const start = process.hrtime.bigint();
  const timer = setInterval(() => {
    const due = Math.floor((Number(process.hrtime.bigint() - start) / 1e9) * o.pps * calls.length);
    let n = Math.min(due - pairs, Math.ceil((calls.length * o.pps) / 20));
    for (; n > 0; n--) {
      sent += sendPair(calls[cursor]!, opus, aSends);
      pairs++;
      cursor = (cursor + 1) % calls.length;
    }
    if (due - pairs > calls.length * o.pps) pairs = due - calls.length;
  }, 5);
  await sleep(o.warmup * 1000);
  legs.rxA = empty();
  legs.rxB = empty();
  const sent0 = sent;
  const cpu0 = readProcStat(o.pid)!.ticks;
  const t0 = process.hrtime.bigint();
  await sleep(o.seconds * 1000);
  const cpu1 = readProcStat(o.pid)!.ticks;
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const sentWindow = sent - sent0;
  clearInterval(timer);
  // Packets of the window still queued in rtpengine: until nothing arrives for 200 ms (at most 3 s).
  for (let waited = 0, last = -1; waited < 3000; waited += 200) {
    const now = legs.rxA.packets + legs.rxB.packets;
    if (now === last) break;
    last = now;
    await sleep(200);
  }
  return { sent: sentWindow, cpuSec: (cpu1 - cpu0) / o.hz, wall, rxA: legs.rxA, rxB: legs.rxB };
}

const r2 = (x: number): number => Math.round(x * 100) / 100;

async function step(
  ng: NgClient,
  legs: Legs,
  n: number,
  transcode: boolean,
  opus: Buffer[] | null,
  o: TranscodeOptions,
) {
  legs.ptA = PCMA_PT;
  const calls: Call[] = [];
  const tag = transcode ? 'tc' : 'plain';
  for (let i = 0; i < n; i++) calls.push(await setupCall(ng, legs, i, transcode, tag));
  // Without captured Opus, leg a stays silent in the transcode step (PCMA -> Opus only).
  const w = await pace(calls, opus, !transcode || opus !== null, o, legs);
  for (const c of calls) await ngResult(ng, { command: 'delete', 'call-id': c.sid });
  const received = w.rxA.packets + w.rxB.packets;
  const side: TranscodeSide = {
    sent: w.sent,
    received,
    lossPct: w.sent > 0 ? r2(Math.max(0, (1 - received / w.sent) * 100)) : 0,
    cpuPct: Math.round((w.cpuSec / w.wall) * 1000) / 10,
    cpuPctPerCall: Math.round(((w.cpuSec / w.wall) * 100 * 1000) / n) / 1000,
    cpuUsPerPacket: received > 0 ? r2((w.cpuSec * 1e6) / Math.min(received, w.sent)) : NaN,
    cpuPctPerCallAtRate: NaN,
    saturated: received < 0.99 * w.sent,
  };
  // Per call at the full rate: both directions when leg a sends, else leg b's only.
  const perCall = (!transcode || opus !== null ? 2 : 1) * o.pps;
  side.cpuPctPerCallAtRate = Math.round(side.cpuUsPerPacket * perCall * 1e-4 * 1000) / 1000;
  return { side, rxA: w.rxA, rxB: w.rxB, wall: w.wall };
}

const ratio = (a: number, b: number): number | null => (b > 0 && Number.isFinite(a) ? r2(a / b) : null);

/** The transcode steps for each call count, on rtpengine at `o.ngPort`. */
export async function runTranscode(counts: number[], o: TranscodeOptions, log: (s: string) => void) {
  const ng = new NgClient('127.0.0.1', o.ngPort);
  const legs = await Legs.open(32);
  const results: TranscodeResult[] = [];
  try {
    const captured = await captureOpus(ng, legs, 600);
    const opus = captured.length > 0 ? captured : null;
    const lengths = captured.map((p) => p.length);
    log(
      opus
        ? `transcode: ${captured.length} Opus packets captured from rtpengine (payload ${Math.min(...lengths)}-${Math.max(...lengths)} bytes), replayed on leg a`
        : 'transcode: no Opus captured from rtpengine: PCMA -> Opus direction only',
    );
    for (const n of counts) {
      log(`rtpengine plain (transcode reference) ${n} calls ...`);
      const plain = await step(ng, legs, n, false, null, o);
      log(`rtpengine transcode ${n} calls ...`);
      const tc = await step(ng, legs, n, true, opus, o);
      const opusSide = {
        pt: legs.ptA,
        packets: tc.rxA.packets,
        withOpusPt: tc.rxA.expectedPt,
        meanPayload: tc.rxA.packets ? r2(tc.rxA.payloadBytes / tc.rxA.packets) : 0,
        pcmaSized: tc.rxA.pcmaSized,
      };
      const pcmaSide = {
        packets: tc.rxB.packets,
        withPcmaPt: tc.rxB.expectedPt,
        meanPayload: tc.rxB.packets ? r2(tc.rxB.payloadBytes / tc.rxB.packets) : 0,
      };
      const transcoded =
        opusSide.pt !== PCMA_PT &&
        opusSide.packets > 0 &&
        opusSide.withOpusPt === opusSide.packets &&
        opusSide.pcmaSized === 0 &&
        (opus === null || (pcmaSide.packets > 0 && pcmaSide.withPcmaPt === pcmaSide.packets));
      const r: TranscodeResult = {
        calls: n,
        seconds: r2(tc.wall),
        directions: opus ? 'both' : 'pcma-to-opus',
        plain: plain.side,
        transcode: tc.side,
        ratioPerCall: ratio(tc.side.cpuPctPerCallAtRate, plain.side.cpuPctPerCallAtRate),
        ratioPerPacket: ratio(tc.side.cpuUsPerPacket, plain.side.cpuUsPerPacket),
        opusSide,
        pcmaSide,
        transcoded,
        load: Math.round(loadavg()[0]! * 10) / 10,
      };
      results.push(r);
      log(
        `  plain ${r.plain.cpuPctPerCallAtRate}%/call ${r.plain.cpuUsPerPacket} us/pkt; transcode ${r.transcode.cpuPctPerCallAtRate}%/call ` +
          `${r.transcode.cpuUsPerPacket} us/pkt (x${r.ratioPerCall}), loss ${r.transcode.lossPct}%` +
          `${r.transcode.saturated ? ' (saturated)' : ''}, transcoded ${transcoded}`,
      );
    }
  } finally {
    legs.close();
    ng.close();
  }
  return results;
}

export function printTranscode(results: TranscodeResult[]): void {
  if (results.length === 0) return;
  console.log('\nrtpengine transcoding (leg a Opus, leg b PCMA) beside plain RTP, same rtpengine, same generator:');
  const head = [
    'calls',
    'dirs',
    'plain %/call',
    'plain us/pkt',
    'tc %/call',
    'tc us/pkt',
    'tc/plain',
    'tc CPU %',
    'tc loss %',
    'load',
  ];
  const rows = results.map((r) =>
    [
      r.calls,
      r.directions,
      r.plain.cpuPctPerCallAtRate,
      r.plain.cpuUsPerPacket,
      r.transcode.cpuPctPerCallAtRate,
      r.transcode.cpuUsPerPacket,
      r.ratioPerCall ?? 'n/a',
      r.transcode.cpuPct,
      `${r.transcode.lossPct}${r.transcode.saturated ? ' sat' : ''}`,
      r.load,
    ].map(String),
  );
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(w[i]!)).join('  ');
  console.log(line(head));
  for (const x of rows) console.log(line(x));
  console.log(
    '%/call: CPU % of one core per call at the full rate (us/pkt x packets a call sends a second); sat: over 1% lost',
  );
  for (const r of results)
    console.log(
      `${r.calls} calls: leg a got ${r.opusSide.packets} packets, ${r.opusSide.withOpusPt} with Opus PT ${r.opusSide.pt}, ` +
        `mean payload ${r.opusSide.meanPayload} B, ${r.opusSide.pcmaSized} of 160 B; leg b got ${r.pcmaSide.packets}, ` +
        `${r.pcmaSide.withPcmaPt} PCMA, mean ${r.pcmaSide.meanPayload} B: ${r.transcoded ? 'transcoded' : 'NOT TRANSCODED'}`,
    );
}
