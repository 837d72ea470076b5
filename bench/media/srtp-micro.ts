/**
 * bench/media srtp-micro: CPU per packet of the built-in relay's SRTP work
 * alone, in this process (no sockets, no generator, so it repeats on a busy
 * machine where the relay bench does not). Like the relay in the srtp mode,
 * per call one context decrypts what leg a sends (unprotectRtp, in place)
 * and one encrypts what goes to leg a (protectRtp into a new pooled Buffer
 * of 182 bytes); 172-byte RTP packets, the calls in turn. Each round
 * measures ROUNDS packets per call each way; the figure is the fastest
 * round. With --base DIR (the dist directory of another build), that
 * build's SrtpContext runs in the same process, rounds interleaved, and
 * both must produce the same SRTP packets.
 *
 *   node dist/bench/media/srtp-micro.js [--calls 400] [--rounds 16] [--base /tmp/other/dist]
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { SrtpContext } from '../../src/media/srtp/context.js';

type Ctx = Pick<SrtpContext, 'protectRtp' | 'unprotectRtp'>;
type CtxClass = new (suite: 'AES_CM_128_HMAC_SHA1_80', key: Uint8Array, salt: Uint8Array) => Ctx;

interface Call {
  /** The generator's context (this build's), leg a's SRTP. */
  gen: SrtpContext;
  /** The relay's: decrypts leg a's packets, encrypts toward leg a. */
  fromA: Ctx;
  toA: Ctx;
  seq: number;
  ssrcA: number;
  ssrcB: number;
}

interface Build {
  name: string;
  calls: Call[];
  unprotectNs: number;
  protectNs: number;
}

const PER_ROUND = 25;
const PAYLOAD = randomBytes(160);

function arg(name: string, dflt: string | null): string | null {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? null) : dflt;
}

function rtp(seq: number, ssrc: number): Buffer {
  const p = Buffer.allocUnsafe(172);
  p[0] = 0x80;
  p[1] = 8;
  p.writeUInt16BE(seq & 0xffff, 2);
  p.writeUInt32BE((seq * 160) >>> 0, 4);
  p.writeUInt32BE(ssrc, 8);
  PAYLOAD.copy(p, 12);
  return p;
}

function newCalls(Relay: CtxClass, n: number): Call[] {
  const calls: Call[] = [];
  for (let i = 0; i < n; i++) {
    const ka = randomBytes(30);
    const kb = randomBytes(30);
    calls.push({
      gen: new SrtpContext('AES_CM_128_HMAC_SHA1_80', ka.subarray(0, 16), ka.subarray(16)),
      fromA: new Relay('AES_CM_128_HMAC_SHA1_80', ka.subarray(0, 16), ka.subarray(16)),
      toA: new Relay('AES_CM_128_HMAC_SHA1_80', kb.subarray(0, 16), kb.subarray(16)),
      seq: 0,
      ssrcA: randomBytes(4).readUInt32BE(0),
      ssrcB: randomBytes(4).readUInt32BE(0),
    });
  }
  return calls;
}

const cpuNs = (from: NodeJS.CpuUsage): number => {
  const u = process.cpuUsage(from);
  return (u.user + u.system) * 1000;
};

/** One round: PER_ROUND packets per call each way (made before the clock starts). */
function round(b: Build): void {
  const fromA: Buffer[] = [];
  const fromB: Buffer[] = [];
  for (let r = 0; r < PER_ROUND; r++)
    for (const c of b.calls) {
      const out = Buffer.allocUnsafe(182);
      c.gen.protectRtp(rtp(c.seq, c.ssrcA), 172, out);
      fromA.push(out);
      fromB.push(rtp(c.seq, c.ssrcB));
      c.seq++;
    }
  let k = 0;
  let t = process.cpuUsage();
  for (let r = 0; r < PER_ROUND; r++)
    for (const c of b.calls)
      if (c.fromA.unprotectRtp(fromA[k++]!, 182) !== 172) throw new Error(`${b.name}: packet did not authenticate`);
  b.unprotectNs = Math.min(b.unprotectNs, cpuNs(t) / k);
  k = 0;
  t = process.cpuUsage();
  for (let r = 0; r < PER_ROUND; r++)
    for (const c of b.calls) c.toA.protectRtp(fromB[k++]!, 172, Buffer.allocUnsafe(182));
  b.protectNs = Math.min(b.protectNs, cpuNs(t) / k);
}

/** The base build must encrypt as this one does (same keys, same packets, across an index wrap). */
function sameOutput(Base: CtxClass): void {
  const k = randomBytes(30);
  const mine = new SrtpContext('AES_CM_128_HMAC_SHA1_80', k.subarray(0, 16), k.subarray(16));
  const theirs = new Base('AES_CM_128_HMAC_SHA1_80', k.subarray(0, 16), k.subarray(16));
  for (let seq = 0; seq < 70000; seq += 7) {
    const a = Buffer.alloc(182);
    const b = Buffer.alloc(182);
    mine.protectRtp(rtp(seq, 0x1234), 172, a);
    theirs.protectRtp(rtp(seq, 0x1234), 172, b);
    if (!a.equals(b)) throw new Error(`the base build encrypts packet ${seq} differently`);
  }
}

async function main(): Promise<void> {
  const calls = Number(arg('--calls', '400'));
  const rounds = Number(arg('--rounds', '16'));
  const baseDir = arg('--base', null);
  const builds: Build[] = [];
  if (baseDir !== null) {
    const url = pathToFileURL(join(baseDir, 'src/media/srtp/context.js')).href;
    const Base = ((await import(url)) as { SrtpContext: CtxClass }).SrtpContext;
    sameOutput(Base);
    builds.push({
      name: `base (${baseDir})`,
      calls: newCalls(Base, calls),
      unprotectNs: Infinity,
      protectNs: Infinity,
    });
  }
  builds.push({ name: 'this build', calls: newCalls(SrtpContext, calls), unprotectNs: Infinity, protectNs: Infinity });
  for (let r = 0; r < rounds; r++) for (const b of builds) round(b);
  for (const b of builds) {
    const mean = (b.unprotectNs + b.protectNs) / 2;
    process.stdout.write(
      `${b.name}: ${calls} calls, ns CPU per packet (fastest of ${rounds} rounds): ` +
        `unprotect ${b.unprotectNs.toFixed(0)}, protect ${b.protectNs.toFixed(0)}, mean ${mean.toFixed(0)}\n`,
    );
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`srtp-micro: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
