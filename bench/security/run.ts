/**
 * Security benchmark: what the security edge costs, on this machine,
 * loopback only.
 *
 * 1. CPU per call with the pipeline on and off, in the same run: two
 *    Trunkline servers (the embedded `security:` defaults, and
 *    `security: {enabled: false}`), each a stateful proxy forwarding to a
 *    SIPp UAS of its own (bench/proxy's uac-rr.xml / uas-rr.xml), driven in
 *    alternation (off, on, on, off, ...) by the same SIPp UAC call load
 *    (--rate calls/s for --seconds per round, --rounds rounds each). CPU is
 *    the server's utime+stime from /proc, from just before the UAC starts to
 *    when the UAS has no open call, minus the server's idle CPU over that
 *    time (measured for 2 s after its start). The UAC runs on 127.0.0.1, the servers'
 *    own address (trusted: flood counting runs, a ban never follows), so the
 *    on-server runs every step on every message, as for a trusted trunk.
 *    Target: the pipeline adds at most 15% CPU per call.
 *
 * 2. Banned packets: a sender on 127.0.0.3 floods the security-on server
 *    with OPTIONS; the flood step bans it after 20; then --packets more
 *    datagrams at --pps are sent, and the server's CPU (minus its idle CPU
 *    over the same time) per banned packet is compared with its CPU per
 *    call message (CPU per call / 6 messages a call brings in: INVITE, ACK,
 *    BYE from the UAC, 180, 200, 200 from the UAS). Kernel receive-buffer
 *    drops (/proc/net/snmp RcvbufErrors, machine-wide) are subtracted from
 *    the packets counted. Target: a banned packet at least 5x cheaper.
 *
 * 3. In process (micro.ts), the gate and pipeline's CPU on one call's
 *    requests and on one banned datagram, finer than /proc's 10 ms ticks.
 *
 * Usage: node dist/bench/security/run.js [--rate N] [--seconds N] [--rounds N]
 *        [--packets N] [--pps N] [--json] [--keep]
 */
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSocket } from 'node:dgram';
import { spawnSync } from 'node:child_process';
import { freePort } from '../../test/helpers/ports.js';
import { Child, installCleanupHandlers, stopAll } from '../common/children.js';
import { clockTicksPerSecond, loadAverage, treeCpuTicks } from '../common/procstat.js';
import { Uas, runUac, sleep } from '../common/sipp.js';
import { waitForOptions } from '../common/readiness.js';
import { micro } from './micro.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const UAC = join(ROOT, 'bench', 'proxy', 'uac-rr.xml');
const UAS = join(ROOT, 'bench', 'proxy', 'uas-rr.xml');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
/** Messages a call brings into the proxy: INVITE, ACK, BYE (UAC) and 180, 200, 200 (UAS). */
const MESSAGES_PER_CALL = 6;

interface Options {
  rate: number;
  seconds: number;
  rounds: number;
  packets: number;
  pps: number;
  json: boolean;
  keep: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { rate: 100, seconds: 8, rounds: 5, packets: 100_000, pps: 20_000, json: false, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v <= 0) throw new Error(`${a}: expected a positive integer`);
      return v;
    };
    if (a === '--rate') o.rate = next();
    else if (a === '--seconds') o.seconds = next();
    else if (a === '--rounds') o.rounds = next();
    else if (a === '--packets') o.packets = next();
    else if (a === '--pps') o.pps = next();
    else if (a === '--json') o.json = true;
    else if (a === '--keep') o.keep = true;
    else throw new Error(`unknown option ${a} (see the comment at the top of bench/security/run.ts)`);
  }
  return o;
}

interface Server {
  label: 'on' | 'off';
  port: number;
  uasPort: number;
  dir: string;
  child: Child;
  uas: Uas;
  cpuMsPerCall: number[];
  failed: number;
  /** CPU ms per second when idle (timer wheel, store poll), subtracted from each round. */
  idleMsPerS: number;
}

function configYaml(port: number, uasPort: number, dir: string, on: boolean): string {
  return [
    `listen: [udp:127.0.0.1:${port}]`,
    // The API on a free port: never the default 8080 another server may hold.
    'api: {listen: "127.0.0.1:0"}',
    `data: ${JSON.stringify(join(dir, 'data'))}`,
    'log: {level: warn}',
    'routes:',
    `  - forward: "sip:127.0.0.1:${uasPort}"`,
    ...(on ? [] : ['security: {enabled: false}']),
    '',
  ].join('\n');
}

async function startServer(label: 'on' | 'off', base: string): Promise<Server> {
  const dir = join(base, label);
  spawnSync('mkdir', ['-p', dir]);
  const [port, uasPort, cp] = [await freePort(), await freePort(), await freePort()];
  const file = join(dir, 'trunkline.yaml');
  writeFileSync(file, configYaml(port, uasPort, dir, label === 'on'));
  const child = new Child(
    `trunkline-${label}`,
    process.execPath,
    [CLI, 'serve', '--config', file],
    join(dir, 'trunkline.log'),
    dir,
  );
  await waitForOptions(port, child, 20_000);
  const uas = Uas.start({
    sipp: 'sipp',
    scenario: UAS,
    dir,
    port: uasPort,
    transport: 'udp',
    recvTimeoutMs: 10_000,
    controlPort: cp,
  });
  await sleep(500);
  const hz = clockTicksPerSecond();
  const t0 = treeCpuTicks(child.pid).ticks;
  const w0 = Date.now();
  await sleep(2000);
  const idleMsPerS = ((((treeCpuTicks(child.pid).ticks - t0) / hz) * 1000) / (Date.now() - w0)) * 1000;
  return { label, port, uasPort, dir, child, uas, cpuMsPerCall: [], failed: 0, idleMsPerS };
}

async function callRound(s: Server, o: Options, round: number): Promise<void> {
  const hz = clockTicksPerSecond();
  const calls = o.rate * o.seconds;
  const [localPort, cp] = [await freePort(), await freePort()];
  const before = treeCpuTicks(s.child.pid).ticks;
  const t0 = Date.now();
  const r = await runUac({
    sipp: 'sipp',
    scenario: UAC,
    dir: s.dir,
    target: `127.0.0.1:${s.port}`,
    localPort,
    transport: 'udp',
    rate: o.rate,
    calls,
    limit: o.rate * 4,
    recvTimeoutMs: 10_000,
    deadlineMs: (o.seconds + 30) * 1000,
    statsFile: join(s.dir, `uac-${round}.csv`),
    controlPort: cp,
  });
  const since = Date.now();
  await s.uas.waitIdle(since, 20_000);
  const after = treeCpuTicks(s.child.pid).ticks;
  const busyMs = ((after - before) / hz) * 1000 - s.idleMsPerS * ((Date.now() - t0) / 1000);
  s.cpuMsPerCall.push(Math.max(0, busyMs) / Math.max(1, r.created));
  s.failed += r.created - r.successful + (calls - r.created);
}

function udpRcvbufErrors(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Udp:'));
  if (lines.length < 2) return 0;
  const names = lines[0]!.split(/\s+/);
  const values = lines[1]!.split(/\s+/);
  const i = names.indexOf('RcvbufErrors');
  return i < 0 ? 0 : Number(values[i]);
}

/** Sends `count` copies of `data` from 127.0.0.3 at about `pps`; resolves when done. */
async function blast(port: number, count: number, pps: number): Promise<void> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.3', () => resolve()));
  const local = sock.address().port;
  const data = Buffer.from(
    [
      `OPTIONS sip:127.0.0.1:${port} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.3:${local};branch=z9hG4bKflood1;rport`,
      'Max-Forwards: 70',
      'From: <sip:flood@127.0.0.3>;tag=f1',
      `To: <sip:127.0.0.1:${port}>`,
      'Call-ID: flood@127.0.0.3',
      'CSeq: 1 OPTIONS',
      'User-Agent: bench-flood',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );
  const batch = 200;
  const start = Date.now();
  let sent = 0;
  while (sent < count) {
    for (let i = 0; i < batch && sent < count; i++, sent++) sock.send(data, port, '127.0.0.1');
    const due = start + (sent / pps) * 1000;
    const wait = due - Date.now();
    await sleep(wait > 0 ? wait : 0);
  }
  await sleep(200);
  sock.close();
}

async function bannedCost(
  s: Server,
  o: Options,
): Promise<{ cpuUsPerPacket: number; packets: number; kernelDrops: number; idleMsPerS: number }> {
  const hz = clockTicksPerSecond();
  // Crossing the flood density bans the sender (and writes the ban to the store).
  await blast(s.port, 100, 1000);
  await sleep(1500);
  const idle0 = treeCpuTicks(s.child.pid).ticks;
  const idleStart = Date.now();
  await sleep(2000);
  const idleMsPerS = ((((treeCpuTicks(s.child.pid).ticks - idle0) / hz) * 1000) / (Date.now() - idleStart)) * 1000;
  const drops0 = udpRcvbufErrors();
  const before = treeCpuTicks(s.child.pid).ticks;
  const t0 = Date.now();
  await blast(s.port, o.packets, o.pps);
  const elapsedS = (Date.now() - t0) / 1000;
  const cpuMs = ((treeCpuTicks(s.child.pid).ticks - before) / hz) * 1000 - idleMsPerS * elapsedS;
  const kernelDrops = Math.max(0, udpRcvbufErrors() - drops0);
  const packets = Math.max(1, o.packets - kernelDrops);
  return { cpuUsPerPacket: (Math.max(0, cpuMs) * 1000) / packets, packets, kernelDrops, idleMsPerS };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  installCleanupHandlers();
  const base = mkdtempSync(join(tmpdir(), 'bench-security-'));
  try {
    const off = await startServer('off', base);
    const on = await startServer('on', base);
    const load = loadAverage()[0];
    // Warm-up (not reported): one short round each.
    const warm = { ...o, seconds: 2 };
    await callRound(off, warm, -1);
    await callRound(on, warm, -2);
    off.cpuMsPerCall.length = 0;
    on.cpuMsPerCall.length = 0;
    off.failed = 0;
    on.failed = 0;
    for (let r = 0; r < o.rounds; r++) {
      const order = r % 2 === 0 ? [off, on] : [on, off];
      for (const s of order) await callRound(s, o, r);
    }
    const offMs = median(off.cpuMsPerCall);
    const onMs = median(on.cpuMsPerCall);
    const overhead = onMs / offMs - 1;
    const spreadOf = (xs: number[], m: number): number => (Math.max(...xs) - Math.min(...xs)) / (2 * m);
    const spread = Math.max(spreadOf(off.cpuMsPerCall, offMs), spreadOf(on.cpuMsPerCall, onMs));
    const banned = await bannedCost(on, o);
    const perMessageUs = (onMs * 1000) / MESSAGES_PER_CALL;
    // Warm the JIT, then measure.
    micro(2000);
    const m = micro();
    const ratio = perMessageUs / Math.max(banned.cpuUsPerPacket, 1e-9);
    const result = {
      rate: o.rate,
      secondsPerRound: o.seconds,
      rounds: o.rounds,
      loadAverageAtStart: load,
      cpuMsPerCall: { off: off.cpuMsPerCall, on: on.cpuMsPerCall, medianOff: offMs, medianOn: onMs },
      failedCalls: { off: off.failed, on: on.failed },
      pipelineOverhead: overhead,
      roundSpread: spread,
      banned: { ...banned, packetsPerCpuSecond: 1e6 / Math.max(banned.cpuUsPerPacket, 1e-9) },
      cpuUsPerCallMessage: perMessageUs,
      bannedCheaperBy: ratio,
      inProcess: { ...m, pipelineShareOfCallCpu: m.pipelineUsPerCall / (offMs * 1000) },
      verdict: { overheadOk: overhead <= 0.15, bannedOk: ratio >= 5 },
    };
    if (o.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      const f = (x: number, d = 3): string => x.toFixed(d);
      process.stdout.write(
        [
          `bench/security: ${o.rate} calls/s x ${o.seconds} s, ${o.rounds} rounds each, alternating; load average at start ${f(load, 2)}`,
          `  CPU ms per call, security off: ${off.cpuMsPerCall.map((x) => f(x)).join(' ')} (median ${f(offMs)})`,
          `  CPU ms per call, security on:  ${on.cpuMsPerCall.map((x) => f(x)).join(' ')} (median ${f(onMs)})`,
          `  failed calls: off ${off.failed}, on ${on.failed}`,
          `  pipeline overhead per call: ${f(overhead * 100, 1)}% (target <= 15%: ${result.verdict.overheadOk ? 'met' : 'NOT met'}); rounds of one server spread ${f(spread * 100, 0)}% around their median${spread > Math.abs(overhead) ? ' (more than the difference: noise, see the in-process figure)' : ''}`,
          `  banned packets: ${banned.packets} counted (${banned.kernelDrops} kernel drops), ${f(banned.cpuUsPerPacket, 2)} us CPU each, ${Math.round(result.banned.packetsPerCpuSecond)} per CPU-second (idle ${f(banned.idleMsPerS, 1)} ms/s subtracted)`,
          `  a call message costs ${f(perMessageUs, 1)} us CPU (per call / ${MESSAGES_PER_CALL}): banned traffic ${f(ratio, 1)}x cheaper (target >= 5x: ${result.verdict.bannedOk ? 'met' : 'NOT met'})`,
          `  in-process: gate + pipeline ${f(m.pipelineUsPerCall, 2)} us per call (INVITE, ACK, BYE; parsing them ${f(m.parseUsPerCall, 2)} us) = ${f((m.pipelineUsPerCall / (offMs * 1000)) * 100, 2)}% of the CPU per call with security off; a banned datagram ${f(m.bannedDropUs * 1000, 0)} ns in the gate`,
          '',
        ].join('\n'),
      );
    }
  } finally {
    await stopAll();
    if (o.keep) process.stderr.write(`kept ${base}\n`);
    else rmSync(base, { recursive: true, force: true });
  }
}

main().catch(async (err: unknown) => {
  process.stderr.write(`bench/security: ${err instanceof Error ? err.message : String(err)}\n`);
  await stopAll();
  process.exit(1);
});
