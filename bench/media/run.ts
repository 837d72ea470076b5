/**
 * bench/media: RTP packets relayed per CPU-second, CPU per concurrent call,
 * and loss, for the built-in relay and for rtpengine (Debian
 * rtpengine-daemon, userspace `--table=-1`), on the same streams in the
 * same run, plain RTP and SRTP->RTP (leg a SRTP AES_CM_128_HMAC_SHA1_80,
 * leg b plain; both directions, so every packet is decrypted or encrypted),
 * and DTLS-SRTP->RTP (leg a a WebRTC leg: ICE, DTLS handshake, then SRTP
 * with its keys; webrtc-gen.ts); and rtpengine alone transcoding Opus <->
 * PCMA beside plain RTP (transcode.ts).
 *
 * Each relay runs in its own process (the built-in one in
 * builtin-child.ts), its CPU read from /proc/PID/stat (all threads). This
 * process sets calls up through the engine interface and is the traffic
 * generator: per call, one G.711 stream each way (172-byte RTP, 50 packets/s
 * by default), spread over the 20 ms tick.
 *
 *   node dist/bench/media/run.js [--calls 50,100,200,400] [--seconds 8] [--pps 50]
 *        [--modes plain,srtp,dtls,transcode] [--only builtin|rtpengine] [--json]
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { LegMediaOptions } from '../../src/media/engine.js';
import { SrtpContext } from '../../src/media/srtp/context.js';
import { loadavg } from 'node:os';
import { clockTicksPerSecond, readProcStat } from '../common/procstat.js';
import { WebrtcGen } from './webrtc-gen.js';
import { printTable, summarize } from './report.js';
import { setPortRangeSize, startBuiltin, startRtpengine, type EngineName, type Relay } from './relays.js';
export type { EngineName } from './relays.js';
import { printTranscode, runTranscode, type TranscodeResult } from './transcode.js';

/** The kernel's UDP RcvbufErrors counter (/proc/net/snmp): datagrams dropped because a socket buffer was full. */
function udpRcvbufErrors(): number {
  try {
    const lines = readFileSync('/proc/net/snmp', 'latin1')
      .split('\n')
      .filter((l) => l.startsWith('Udp:'));
    const names = lines[0]!.split(/\s+/);
    const values = lines[1]!.split(/\s+/);
    return Number(values[names.indexOf('RcvbufErrors')] ?? 0);
  } catch {
    return 0;
  }
}

export type Mode = 'plain' | 'srtp' | 'dtls' | 'transcode';
const MODES: readonly Mode[] = ['plain', 'srtp', 'dtls', 'transcode'];

export interface Args {
  calls: number[];
  /** Calls of the transcode mode: --calls when given, else 50,100,200. */
  transcodeCalls: number[];
  seconds: number;
  pps: number;
  modes: Mode[];
  only: EngineName | null;
  json: boolean;
  warmup: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    calls: [50, 100, 200, 400],
    transcodeCalls: [50, 100, 200],
    seconds: 8,
    pps: 50,
    modes: ['plain', 'srtp', 'dtls', 'transcode'],
    only: null,
    json: false,
    warmup: 2,
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${k} needs a value`);
      return x;
    };
    if (k === '--calls') a.calls = a.transcodeCalls = v().split(',').map(Number);
    else if (k === '--seconds') a.seconds = Number(v());
    else if (k === '--pps') a.pps = Number(v());
    else if (k === '--warmup') a.warmup = Number(v());
    else if (k === '--modes') a.modes = v().split(',') as Mode[];
    else if (k === '--only') a.only = v() as EngineName;
    else if (k === '--json') a.json = true;
    else throw new Error(`unknown option ${k}`);
  }
  if (a.calls.some((n) => !Number.isInteger(n) || n < 1 || n > 2300))
    throw new Error('--calls: integers 1-2300 (4 ports per call in 40000-50000)');
  if (!(a.seconds > 0 && a.seconds <= 120)) throw new Error('--seconds: 1-120');
  if (!(a.warmup >= 0 && a.warmup <= 60)) throw new Error('--warmup: 0-60');
  const bad = a.modes.find((m) => !MODES.includes(m));
  if (bad !== undefined) throw new Error(`--modes: unknown mode ${bad} (${MODES.join(', ')})`);
  if (!(a.pps > 0 && a.pps <= 1000)) throw new Error('--pps: 1-1000');
  return a;
}

const log = (s: string): void => void process.stderr.write(`${s}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function bindUdp(): Promise<Socket> {
  return new Promise((resolve) => {
    const s = createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
    s.bind(0, '127.0.0.1', () => resolve(s));
  });
}

function sdp(port: number, srtpKey: Buffer | null): string {
  return [
    'v=0',
    'o=gen 1 1 IN IP4 127.0.0.1',
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${port} ${srtpKey ? 'RTP/SAVP' : 'RTP/AVP'} 8 101`,
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=ptime:20',
    ...(srtpKey ? [`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${srtpKey.toString('base64')}`] : []),
    'a=sendrecv',
    '',
  ].join('\r\n');
}

interface Stream {
  /** Where each side sends (the relay's port for it). */
  toA: number;
  toB: number;
  ssrcA: number;
  ssrcB: number;
  seq: number;
  tx: SrtpContext | null;
}

/** Sockets shared by all calls (the relay latches per leg, not per socket). */
interface Gen {
  a: Socket[];
  b: Socket[];
  rxA: number;
  rxB: number;
  webrtc: WebrtcGen;
}

async function setup(relay: Relay, calls: number, mode: Mode, gen: Gen): Promise<Stream[]> {
  const out: Stream[] = [];
  const plain: LegMediaOptions = { profile: 'RTP/AVP', codecs: [] };
  for (let i = 0; i < calls; i++) {
    const sa = gen.a[i % gen.a.length]!;
    const sb = gen.b[i % gen.b.length]!;
    const key = mode === 'srtp' ? randomBytes(30) : null;
    const sid = `bench-${i}`;
    const fromA = mode === 'dtls' ? gen.webrtc.offer(sa.address().port) : sdp(sa.address().port, key);
    const offer = await relay.engine.offer(sid, 'a', fromA, plain);
    const answer = await relay.engine.answer(sid, 'b', sdp(sb.address().port, null), {
      profile: 'as-offered',
      codecs: [],
    });
    const port = (s: string): number => Number(/^m=audio (\d+)/m.exec(s)![1]);
    out.push({
      toA: port(answer),
      toB: port(offer),
      ssrcA: (Math.random() * 0xffffffff) >>> 0,
      ssrcB: (Math.random() * 0xffffffff) >>> 0,
      seq: 1,
      tx: key ? new SrtpContext('AES_CM_128_HMAC_SHA1_80', key.subarray(0, 16), key.subarray(16)) : null,
    });
    // DTLS-SRTP: the call's ICE check and handshake as soon as it is answered (as a browser does).
    if (mode === 'dtls')
      out[out.length - 1]!.tx = await gen.webrtc.connect(sa, answer).catch((err: Error) => {
        throw new Error(`call ${i}: ${err.message}`);
      });
  }
  return out;
}

const PAYLOAD = randomBytes(160);

/** Sends one packet each way for streams [from, to). Returns packets sent. */
function sendSlice(streams: Stream[], from: number, to: number, gen: Gen): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const s = streams[i]!;
    const seq = s.seq++ & 0xffff;
    const ts = (s.seq * 160) >>> 0;
    const pa = Buffer.allocUnsafe(172);
    pa[0] = 0x80;
    pa[1] = 8;
    pa.writeUInt16BE(seq, 2);
    pa.writeUInt32BE(ts, 4);
    pa.writeUInt32BE(s.ssrcA, 8);
    PAYLOAD.copy(pa, 12);
    let outA = pa;
    if (s.tx !== null) {
      outA = Buffer.allocUnsafe(182);
      s.tx.protectRtp(pa, 172, outA);
    }
    gen.a[i % gen.a.length]!.send(outA, s.toA, '127.0.0.1');
    const pb = Buffer.from(pa);
    pb.writeUInt32BE(s.ssrcB, 8);
    gen.b[i % gen.b.length]!.send(pb, s.toB, '127.0.0.1');
    n += 2;
  }
  return n;
}

export interface StepResult {
  engine: EngineName;
  mode: Mode;
  calls: number;
  seconds: number;
  sent: number;
  received: number;
  lossPct: number;
  relayCpuPct: number;
  packetsPerCpuSecond: number;
  cpuPctPerCall: number;
  cpuUsPerPacket: number;
  generatorCpuPct: number;
  /** Packets per second the step asked for (both directions). */
  targetPps: number;
  /** Datagrams the kernel dropped on full socket buffers during the step (any process). */
  rcvbufErrors: number;
  /** 1-minute load average at the end of the step (other processes share the CPUs). */
  load: number;
}

async function runStep(relay: Relay, mode: Mode, calls: number, args: Args, gen: Gen, hz: number): Promise<StepResult> {
  const streams = await setup(relay, calls, mode, gen);
  // Paced by the clock, not by timer counts: each tick sends what is due since
  // the start (one packet each way per call every 1/pps s), so late timers on
  // a busy machine do not lower the rate.
  let sent = 0;
  const rxStart = gen.rxA + gen.rxB;
  let pairs = 0;
  let cursor = 0;
  let running = true;
  const start = process.hrtime.bigint();
  const timer = setInterval(() => {
    if (!running) return;
    const due = Math.floor((Number(process.hrtime.bigint() - start) / 1e9) * args.pps * calls);
    // At most 50 ms worth at once: a stalled generator shows as a lower rate, not a burst.
    let n = Math.min(due - pairs, Math.ceil((calls * args.pps) / 20));
    while (n > 0) {
      const to = Math.min(calls, cursor + n);
      sent += sendSlice(streams, cursor, to, gen);
      pairs += to - cursor;
      n -= to - cursor;
      cursor = to === calls ? 0 : to;
    }
    if (due - pairs > calls * args.pps) pairs = due - calls; // give up on a backlog over 1 s
  }, 5);
  // Warm-up (latching, JIT), not measured.
  await sleep(args.warmup * 1000);
  const rx0 = gen.rxA + gen.rxB;
  const sent0 = sent;
  const cpu0 = readProcStat(relay.pid)!.ticks;
  const drops0 = udpRcvbufErrors();
  const g0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await sleep(args.seconds * 1000);
  const cpu1 = readProcStat(relay.pid)!.ticks;
  const g1 = process.cpuUsage(g0);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const sentWindow = sent - sent0;
  const rxWindow = gen.rxA + gen.rxB - rx0;
  running = false;
  clearInterval(timer);
  // Let queued packets drain: a relay that lags behind is late, not lossy, until its
  // socket buffers overflow. Wait until nothing arrives for 500 ms (at most 5 s).
  for (let waited = 0, last = -1; waited < 5000; waited += 500) {
    const now = gen.rxA + gen.rxB;
    if (now === last) break;
    last = now;
    await sleep(500);
  }
  const drops1 = udpRcvbufErrors();
  // Loss over the whole step (warm-up included): everything sent against everything received.
  const lost = Math.max(0, sent - (gen.rxA + gen.rxB - rxStart));
  for (let i = 0; i < calls; i++) await relay.engine.delete(`bench-${i}`);
  const cpuSec = (cpu1 - cpu0) / hz;
  // What the relay handled in the window: what was sent in it, less the step's loss rate.
  const relayed = Math.round(sentWindow * (1 - lost / sent));
  const received = rxWindow;
  return {
    engine: relay.name,
    mode,
    calls,
    seconds: Math.round(wall * 100) / 100,
    sent: sentWindow,
    received,
    lossPct: Math.round((lost / sent) * 10000) / 100,
    relayCpuPct: Math.round((cpuSec / wall) * 1000) / 10,
    packetsPerCpuSecond: cpuSec > 0 ? Math.round(relayed / cpuSec) : Infinity,
    cpuPctPerCall: Math.round(((cpuSec / wall) * 100 * 1000) / calls) / 1000,
    cpuUsPerPacket: relayed > 0 ? Math.round(((cpuSec * 1e6) / relayed) * 100) / 100 : NaN,
    generatorCpuPct: Math.round(((g1.user + g1.system) / 1e6 / wall) * 1000) / 10,
    targetPps: calls * args.pps * 2,
    rcvbufErrors: drops1 - drops0,
    load: Math.round(loadavg()[0]! * 10) / 10,
  };
}

/** The transcode mode: rtpengine only (the built-in relay does not transcode), one thread as in the dtls mode. */
async function transcodeSteps(args: Args, hz: number): Promise<TranscodeResult[]> {
  if (args.only === 'builtin') return [];
  if (args.only === null) log('builtin: transcode not run: the built-in relay does not transcode');
  let relay: Relay;
  try {
    relay = await startRtpengine(true);
  } catch (err) {
    log(`rtpengine: not run: ${(err as Error).message}`);
    return [];
  }
  try {
    const o = { ngPort: relay.ngPort!, pid: relay.pid, hz, pps: args.pps, seconds: args.seconds, warmup: args.warmup };
    return await runTranscode(args.transcodeCalls, o, log);
  } finally {
    await relay.stop();
  }
}

/** The modes both relays run (all but transcode), each relay in turn. */
async function relayModes(args: Args, hz: number): Promise<StepResult[]> {
  const gen: Gen = { a: [], b: [], rxA: 0, rxB: 0, webrtc: await WebrtcGen.create() };
  for (let i = 0; i < 32; i++) {
    const a = await bindUdp();
    const b = await bindUdp();
    // ICE and DTLS datagrams of the dtls mode are not media.
    a.on('message', (m: Buffer, r) => void (gen.webrtc.take(a, m, r) || gen.rxA++));
    b.on('message', () => void gen.rxB++);
    gen.a.push(a);
    gen.b.push(b);
  }
  const engines: EngineName[] = args.only ? [args.only] : ['builtin', 'rtpengine'];
  const results: StepResult[] = [];
  for (const mode of args.modes.filter((m) => m !== 'transcode')) {
    for (const name of engines) {
      let relay: Relay;
      try {
        relay = name === 'builtin' ? await startBuiltin() : await startRtpengine(mode === 'dtls');
      } catch (err) {
        log(`${name}: not run: ${(err as Error).message}`);
        continue;
      }
      try {
        for (const [k, calls] of args.calls.entries()) {
          if (k > 0 && mode === 'dtls' && name === 'rtpengine') {
            // After a dtls step, the next step's handshakes with the same rtpengine time out: a fresh one per step.
            await relay.stop();
            relay = await startRtpengine(true);
          }
          log(`${name} ${mode} ${calls} calls ...`);
          const r = await runStep(relay, mode, calls, args, gen, hz);
          results.push(r);
          log(
            `  ${r.received}/${r.sent} packets, loss ${r.lossPct}%, relay CPU ${r.relayCpuPct}% ` +
              `(${r.packetsPerCpuSecond} packets per CPU-second, ${r.cpuUsPerPacket} us/packet, ${r.cpuPctPerCall}% per call), generator ${r.generatorCpuPct}%`,
          );
        }
      } finally {
        await relay.stop();
      }
    }
  }
  for (const s of [...gen.a, ...gen.b]) s.close();
  return results;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  setPortRangeSize(Math.min(9800, Math.max(...args.calls, ...args.transcodeCalls) * 4 + 400));
  const hz = clockTicksPerSecond();
  const results = args.modes.some((m) => m !== 'transcode') ? await relayModes(args, hz) : [];
  const transcode = args.modes.includes('transcode') ? await transcodeSteps(args, hz) : [];
  const summary = summarize(results, { ...args, modes: args.modes.filter((m) => m !== 'transcode') });
  if (args.json) process.stdout.write(`${JSON.stringify({ args, results, summary, transcode }, null, 2)}\n`);
  else {
    if (results.length > 0) printTable(results, summary);
    printTranscode(transcode);
  }
}

main().catch((err: unknown) => {
  log(`bench/media: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
