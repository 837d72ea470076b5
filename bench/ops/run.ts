/**
 * Operations overhead: signalling CPU per call with the operations side
 * busy (HEP capture of every message to a UDP collector, an open SSE event
 * stream, /metrics scraped every --scrape seconds, 5 by default) against the same server with
 * capture off, no stream and no scrapes; the target is at most 10%
 * more. The SIP message counts of /metrics (a few byte reads per message in
 * the transport tap) are always on, in both modes.
 *
 * The same SIPp call flow as bench/proxy (uac-rr.xml through Trunkline to
 * uas-rr.xml), one server switched on and off live between runs (config
 * reload; --fresh: a fresh server per run), modes interleaved in ABBA order
 * (off, on, on, off, ...) so that drift of the machine, and whatever the
 * first run of a round leaves behind, hits both. CPU is the scheduler's run
 * time of the server's threads over the step, up to the UAS going idle.
 * Then Kamailio with siptrace (HEP over UDP) on and off the same way, side
 * by side (bench/ops/README.md).
 *
 * Then the API with --rows trunks (10,000 by default) in the store:
 * requests per second, 8 in flight, for GET /api/v1/trunks (the whole
 * list), a page of 100 of it (?limit=100&cursor=), GET ?account= (one
 * account's 100 trunks), GET one trunk and POST a new one.
 *
 *   node dist/bench/ops/run.js [--rate 200] [--seconds 20] [--rounds 6] [--scrape 5] [--rows 10000] [--json]
 *                              [--no-api] [--cpu-prof DIR  (V8 profiles of the servers, in DIR/on and DIR/off)]
 *                              [--parts capture,sse,scrape  (what "on" switches on; all by default)] [--hep udp|tcp]
 *                              [--gc  (servers run with --trace-gc; collections over the measured calls)]
 *                              [--fresh  (a fresh server per run instead of one switched live)] [--no-kamailio]
 *                              [--warmup 40  (seconds of calls before the measured ones: past the transactions' 32 s)]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { spawnSync } from 'node:child_process';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/helpers/ports.js';
import { Child, installCleanupHandlers } from '../common/children.js';
import {
  clockTicksPerSecond,
  hasSchedstat,
  threadTicksBetween,
  threadTimeMs,
  threadTimes,
  treeCpuTicks,
  treeRunNs,
} from '../common/procstat.js';
import { findKamailio, startKamailioFromTemplate } from '../common/kamailio.js';
import { Uas, runUac } from '../common/sipp.js';
import { waitForBind, waitForOptions } from '../common/readiness.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'dist/src/cli/main.js');
const UAC = join(ROOT, 'bench/proxy/uac-rr.xml');
const UAS = join(ROOT, 'bench/proxy/uas-rr.xml');
const KAMAILIO_TRACE = join(ROOT, 'bench/ops/kamailio-trace.cfg');

interface Opts {
  rate: number;
  seconds: number;
  rounds: number;
  rows: number;
  /** Seconds between /metrics scrapes in the "on" runs (Prometheus's default is 15). */
  scrape: number;
  json: boolean;
  /** Skip the API part. */
  noApi: boolean;
  /** Write a V8 CPU profile of each "on" server here (node --cpu-prof). */
  cpuProf: string | null;
  /** What "on" switches on (all three by default; fewer to see what costs what). */
  parts: Set<Part>;
  /** How HEP reaches the collector (a listener in this process). */
  hep: 'udp' | 'tcp';
  /** Run the servers with --trace-gc and count their collections over the measured calls. */
  gc: boolean;
  /** One fresh server per measured run (the older design) instead of one server switched on and off live. */
  fresh: boolean;
  /** Also measure Kamailio with siptrace (HEP over UDP) on and off, the same way (default: when kamailio is installed). */
  kamailio: boolean;
  /** Seconds of calls at the rate before the measured ones, per server (JIT and first allocations settle). */
  warmup: number;
}

const PARTS = ['capture', 'sse', 'scrape'] as const;
type Part = (typeof PARTS)[number];

function parseArgs(argv: string[]): Opts {
  const o: Opts = {
    rate: 200,
    seconds: 20,
    rounds: 6,
    rows: 10_000,
    scrape: 5,
    json: false,
    noApi: false,
    cpuProf: null,
    parts: new Set(PARTS),
    hep: 'udp',
    warmup: 40,
    gc: false,
    fresh: false,
    kamailio: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = (): number => {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${a}: expected a whole number`);
      return n;
    };
    if (a === '--rate') o.rate = v();
    else if (a === '--seconds') o.seconds = v();
    else if (a === '--rounds') o.rounds = v();
    else if (a === '--rows') o.rows = v();
    else if (a === '--scrape') o.scrape = v();
    else if (a === '--json') o.json = true;
    else if (a === '--no-api') o.noApi = true;
    else if (a === '--cpu-prof') o.cpuProf = argv[++i] ?? '';
    else if (a === '--warmup') o.warmup = v();
    else if (a === '--gc') o.gc = true;
    else if (a === '--fresh') o.fresh = true;
    else if (a === '--no-kamailio') o.kamailio = false;
    else if (a === '--hep') {
      const h = argv[++i];
      if (h !== 'udp' && h !== 'tcp') throw new Error('--hep: udp or tcp');
      o.hep = h;
    } else if (a === '--parts') {
      const list = (argv[++i] ?? '').split(',');
      for (const p of list)
        if (!(PARTS as readonly string[]).includes(p))
          throw new Error(`--parts: ${p} is not one of ${PARTS.join(', ')}`);
      o.parts = new Set(list as Part[]);
    } else throw new Error(`unknown option ${a}`);
  }
  return o;
}

const say = (o: Opts, line: string): void => void (o.json ? process.stderr : process.stdout).write(`${line}\n`);

interface Server {
  child: Child;
  dir: string;
  config: string;
  api: string;
  sip: number;
  ports: { sip: number; api: number; uas: number };
  token: string;
}

/** The server's config file: SIP and API on free ports, one route to the UAS, HEP capture or not. */
function configText(
  dir: string,
  ports: { sip: number; api: number; uas: number },
  capture: 'udp' | 'tcp' | null,
  hepPort: number,
): string {
  return [
    `listen: [udp:127.0.0.1:${ports.sip}]`,
    `data: ${JSON.stringify(join(dir, 'data'))}`,
    `api: {listen: 127.0.0.1:${ports.api}}`,
    'log: {level: warn}',
    ...(capture !== null ? [`capture: {hep: "${capture}:127.0.0.1:${hepPort}", id: 2001}`] : []),
    'routes:',
    `  - forward: "sip:127.0.0.1:${ports.uas}"`,
    '',
  ].join('\n');
}

async function startServer(capture: 'udp' | 'tcp' | null, hepPort: number, nodeArgs: string[] = []): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-ops-'));
  const sip = await freePort();
  const apiPort = await freePort();
  const uas = await freePort();
  const config = join(dir, 'trunkline.yaml');
  writeFileSync(config, configText(dir, { sip, api: apiPort, uas }, capture, hepPort));
  const made = spawnSync(process.execPath, [CLI, 'token', 'add', 'bench', '--role', 'admin', '--config', config], {
    encoding: 'utf8',
  });
  if (made.status !== 0) throw new Error(`token add failed: ${made.stderr}`);
  const child = new Child(
    'trunkline',
    process.execPath,
    [...nodeArgs, CLI, 'serve', '--config', config],
    join(dir, 'trunkline.log'),
    dir,
  );
  await waitForOptions(sip, child, 15_000);
  return {
    child,
    dir,
    config,
    api: `http://127.0.0.1:${apiPort}`,
    sip,
    ports: { sip, api: apiPort, uas },
    token: made.stdout.trim(),
  };
}

/** utime and stime of one process (the server is one process), in clock ticks. */
function userSys(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]), sys: Number(f[12]) };
}

/**
 * Collections the server's --trace-gc has logged so far (its stdout, in
 * trunkline.log): lines like `[pid:0x..]  1234 ms: Scavenge 5.1 (6.2) -> 4.3 (7.2) MB, 0.80 / 0.00 ms ...`.
 */
function gcCounts(dir: string): {
  scavenges: number;
  markCompacts: number;
  ms: number;
  heapMb: number;
  reasons: Map<string, number>;
} {
  let text = '';
  try {
    text = readFileSync(join(dir, 'trunkline.log'), 'latin1');
  } catch {
    // no log yet
  }
  let scavenges = 0;
  let markCompacts = 0;
  let ms = 0;
  let heapMb = 0;
  const reasons = new Map<string, number>();
  for (const line of text.split('\n')) {
    const kind = / ms: (Scavenge|Mark-Compact|Mark-sweep|Minor Mark-Sweep)\b/.exec(line);
    if (kind === null) continue;
    if (kind[1] === 'Scavenge' || kind[1] === 'Minor Mark-Sweep') scavenges++;
    else {
      markCompacts++;
      // Why V8 started it: the text after the last ") " (e.g. "finalize incremental marking via task; GC in old space requested").
      const why = line.slice(line.lastIndexOf(') ') + 2).trim();
      reasons.set(why, (reasons.get(why) ?? 0) + 1);
    }
    const pause = /MB, ([\d.]+) \//.exec(line);
    if (pause !== null) ms += Number(pause[1]);
    const after = /-> ([\d.]+) \(/.exec(line);
    if (after !== null) heapMb = Number(after[1]);
  }
  return { scavenges, markCompacts, ms, heapMb, reasons };
}

/** `main 0.300, V8 DefaultWorke 0.050, ...`, biggest first. */
function threadLine(t: Record<string, number>): string {
  return Object.entries(t)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v.toFixed(3)}`)
    .join(', ');
}

/**
 * The CPU per call compared: the scheduler's run time of the server's threads
 * (/proc/PID/task/TID/schedstat, exact) where the kernel has it, else
 * utime+stime, which the kernel samples at each clock tick (on this VM a
 * process waking in step with the tick is charged more or less than it ran).
 */
const cost = (r: Run): number => (hasSchedstat ? r.runMsPerCall : r.cpuMsPerCall);

/** Milliseconds of CPU per call that one clock tick is, over `calls` calls. */
/** Clock ticks per second of /proc's utime and stime (asked of getconf once). */
const CLK_TCK = clockTicksPerSecond();

const tickMs = (calls: number): number => 1000 / CLK_TCK / Math.max(1, calls);

interface Run {
  cpuMsPerCall: number;
  userMsPerCall: number;
  sysMsPerCall: number;
  /** CPU ms per call by thread name (main, node = V8's workers, libuv-worker...), from the scheduler's run time where /proc has it. */
  threads: Record<string, number>;
  /** Their sum: the process's CPU per call by the scheduler's clock (not sampled at ticks). */
  runMsPerCall: number;
  /** With --gc: collections over the measured calls, and the pause time --trace-gc gave for them. */
  gc: { scavenges: number; markCompacts: number; ms: number; heapMb: number; reasons: string[] } | null;
  ok: number;
  calls: number;
  hep: number;
  events: number;
  scrapes: number;
}

/** The event stream and the scrapes of an "on" run, started and stopped around it. */
class OpsLoad {
  events = 0;
  scrapes = 0;
  #abort: AbortController | null = null;
  #scraping: NodeJS.Timeout | null = null;

  constructor(
    private readonly s: Server,
    private readonly o: Opts,
  ) {}

  async start(): Promise<void> {
    const { s, o } = this;
    if (o.parts.has('sse')) {
      const abort = new AbortController();
      this.#abort = abort;
      const res = await fetch(`${s.api}/api/v1/events`, {
        headers: { authorization: `Bearer ${s.token}` },
        signal: abort.signal,
      });
      void (async () => {
        const reader = res.body!.getReader();
        for (;;) {
          const r = await reader.read().catch(() => ({ done: true as const, value: undefined }));
          if (r.done) return;
          this.events += r.value.length;
        }
      })();
    }
    if (o.parts.has('scrape')) {
      this.#scraping = setInterval(() => {
        void fetch(`${s.api}/metrics`)
          .then((r) => r.text())
          .then(
            () => this.scrapes++,
            () => undefined,
          );
      }, o.scrape * 1000);
    }
  }

  stop(): void {
    this.#abort?.abort();
    this.#abort = null;
    if (this.#scraping !== null) clearInterval(this.#scraping);
    this.#scraping = null;
  }
}

/** `calls` SIPp calls at the rate through the proxy on `port` (uac-rr.xml, UDP), its statistics in dir. */
async function sippCalls(
  o: Opts,
  sipp: string,
  dir: string,
  port: number,
  calls: number,
  tag: string,
): ReturnType<typeof runUac> {
  return runUac({
    sipp,
    scenario: UAC,
    dir,
    target: `127.0.0.1:${port}`,
    localPort: await freePort(),
    transport: 'udp',
    rate: o.rate,
    calls,
    limit: Math.max(200, o.rate * 4),
    recvTimeoutMs: 10_000,
    deadlineMs: (calls / o.rate) * 1000 + 20_000,
    statsFile: join(dir, `uac-${tag}.csv`),
    controlPort: await freePort(),
  });
}

/** A server with its UAS, and SIPp calls through it. */
interface Rig {
  s: Server;
  uas: Uas;
  uac(calls: number, tag: string): ReturnType<typeof runUac>;
  close(): Promise<void>;
}

async function rig(
  o: Opts,
  sipp: string,
  capture: 'udp' | 'tcp' | null,
  hepPort: number,
  nodeArgs: string[],
): Promise<Rig> {
  const s = await startServer(capture, hepPort, nodeArgs);
  const uas = Uas.start({
    sipp,
    scenario: UAS,
    dir: s.dir,
    port: s.ports.uas,
    transport: 'udp',
    recvTimeoutMs: 20_000,
    controlPort: await freePort(),
  });
  const close = async (): Promise<void> => {
    await uas.child.stop(2000, 'SIGINT');
    await s.child.stop(5000);
    rmSync(s.dir, { recursive: true, force: true });
  };
  try {
    await waitForBind(s.ports.uas, 'udp', uas.child, 10_000);
  } catch (err) {
    await close();
    throw err;
  }
  const uac = (calls: number, tag: string) => sippCalls(o, sipp, s.dir, s.sip, calls, tag);
  return { s, uas, uac, close };
}

/** `--seconds` of calls through the rig, and what the server spent on them. */
async function measure(r: Rig, o: Opts, tag: string, load: OpsLoad | null): Promise<Run> {
  const { s, uas } = r;
  const calls = o.rate * o.seconds;
  const hepBefore = await hepSent(s);
  const cpu0 = treeCpuTicks(s.child.pid);
  const us0 = userSys(s.child.pid);
  const th0 = threadTimes(s.child.pid);
  const gc0 = o.gc ? gcCounts(s.dir) : null;
  const res = await r.uac(calls, tag);
  await uas.waitIdle(Date.now(), 35_000);
  const cpu1 = treeCpuTicks(s.child.pid);
  const us1 = userSys(s.child.pid);
  const th1 = threadTimes(s.child.pid);
  const gc1 = o.gc ? gcCounts(s.dir) : null;
  const gc =
    gc0 === null || gc1 === null
      ? null
      : {
          scavenges: gc1.scavenges - gc0.scavenges,
          markCompacts: gc1.markCompacts - gc0.markCompacts,
          ms: gc1.ms - gc0.ms,
          heapMb: gc1.heapMb,
          reasons: [...gc1.reasons]
            .map(([why, n]) => [why, n - (gc0.reasons.get(why) ?? 0)] as const)
            .filter(([, n]) => n > 0)
            .map(([why, n]) => `${n}x ${why}`),
        };
  const n = Math.max(1, res.created);
  const threads: Record<string, number> = {};
  for (const [name, t] of threadTicksBetween(th0.byName, th1.byName))
    if (t > 0) threads[name] = threadTimeMs(t, th1.unit, CLK_TCK) / n;
  const runMs = Object.values(threads).reduce((x, y) => x + y, 0);
  const cpuMs = ((cpu1.ticks - cpu0.ticks) * 1000) / CLK_TCK;
  const tick = tickMs(res.created);
  return {
    cpuMsPerCall: cpuMs / n,
    userMsPerCall: (us1.user - us0.user) * tick,
    sysMsPerCall: (us1.sys - us0.sys) * tick,
    threads,
    runMsPerCall: runMs,
    gc,
    ok: res.successful,
    calls,
    hep: (await hepSent(s)) - hepBefore,
    events: load?.events ?? 0,
    scrapes: load?.scrapes ?? 0,
  };
}

async function hepSent(s: Server): Promise<number> {
  const metrics = await (await fetch(`${s.api}/metrics`)).text();
  return Number(/^trunkline_hep_packets_total\{outcome="sent"\} (\d+)/m.exec(metrics)?.[1] ?? 0);
}

const nodeArgsOf = (o: Opts, tag: string): string[] => [
  ...(o.cpuProf !== null ? ['--cpu-prof', '--cpu-prof-dir', join(o.cpuProf, tag)] : []),
  ...(o.gc ? ['--trace-gc'] : []),
];

/** --fresh: one measured run on a server of its own, with or without the operations load. */
async function freshRun(o: Opts, on: boolean, sipp: string, hepPort: number): Promise<Run> {
  const r = await rig(o, sipp, on && o.parts.has('capture') ? o.hep : null, hepPort, nodeArgsOf(o, on ? 'on' : 'off'));
  const load = on ? new OpsLoad(r.s, o) : null;
  try {
    await load?.start();
    // Warm-up (JIT, first allocations), not counted.
    await r.uac(Math.max(1, o.rate * o.warmup), 'warm');
    await r.uas.waitIdle(Date.now(), 35_000);
    return await measure(r, o, 'run', load);
  } finally {
    load?.stop();
    await r.close();
  }
}

/**
 * The default: one server, switched on and off live between measured runs
 * (capture by a config reload, as an operator does; the stream opened and
 * closed, the scrapes started and stopped), rounds in ABBA order. Servers
 * started alike differ by 10-20% in CPU per call (what V8 compiled, and
 * where), more than the difference measured: one process for both modes
 * takes that out. The warm-up runs half with everything on, half off, so
 * both modes' code is compiled before anything is measured.
 */
async function liveRuns(
  o: Opts,
  sipp: string,
  hepPort: number,
  report: (mode: 'off' | 'on', r: Run) => void,
): Promise<void> {
  const r = await rig(o, sipp, null, hepPort, nodeArgsOf(o, 'live'));
  let load: OpsLoad | null = null;
  const set = async (on: boolean): Promise<void> => {
    load?.stop();
    load = null;
    writeFileSync(r.s.config, configText(r.s.dir, r.s.ports, on && o.parts.has('capture') ? o.hep : null, hepPort));
    const res = await fetch(`${r.s.api}/api/v1/reload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${r.s.token}` },
    });
    if (!res.ok) throw new Error(`reload failed: ${res.status} ${await res.text()}`);
    if (on) {
      load = new OpsLoad(r.s, o);
      await load.start();
    }
  };
  try {
    const half = Math.max(1, Math.round((o.rate * o.warmup) / 2));
    await set(true);
    await r.uac(half, 'warm-on');
    await set(false);
    await r.uac(half, 'warm-off');
    await r.uas.waitIdle(Date.now(), 35_000);
    for (let round = 0; round < o.rounds; round++) {
      for (const mode of round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
        await set(mode === 'on');
        report(mode, await measure(r, o, `${round}-${mode}`, load));
      }
    }
  } finally {
    (load as OpsLoad | null)?.stop();
    await r.close();
  }
}

/**
 * The peer: Kamailio (bench/ops/kamailio-trace.cfg, one worker, -x tlsf) with
 * siptrace mirroring every message as HEP3 over UDP to a collector in this
 * process, switched on and off live with `kamcmd siptrace.status`, in the
 * same ABBA rounds and call flow as Trunkline. CPU is the scheduler's run
 * time of all its processes. Returns CPU ms per call and HEP packets per call by mode.
 */
async function kamailioRuns(
  o: Opts,
  sipp: string,
  kamailio: string,
): Promise<Array<{ mode: 'off' | 'on'; msPerCall: number; hepPerCall: number; ok: number }>> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-ops-kamailio-'));
  const ports = { sip: await freePort(), uas: await freePort(), hep: await freePort() };
  let received = 0;
  const collector = createSocket('udp4');
  collector.on('message', () => received++);
  await new Promise<void>((r) => collector.bind(ports.hep, '127.0.0.1', () => r()));
  const ctl = join(dir, 'ctl.sock');
  const { child } = startKamailioFromTemplate({
    kamailio,
    template: KAMAILIO_TRACE,
    dir,
    values: {
      BENCH_UAS: `sip:127.0.0.1:${ports.uas}`,
      BENCH_LISTEN_UDP: `udp:127.0.0.1:${ports.sip}`,
      BENCH_LISTEN_TCP: `tcp:127.0.0.1:${ports.sip}`,
      BENCH_WORKERS: '1',
      BENCH_HEP: `sip:127.0.0.1:${ports.hep}`,
      BENCH_CTL: `unix:${ctl}`,
    },
  });
  const uas = Uas.start({
    sipp,
    scenario: UAS,
    dir,
    port: ports.uas,
    transport: 'udp',
    recvTimeoutMs: 20_000,
    controlPort: await freePort(),
  });
  const kamcmd = join(dirname(kamailio), 'kamcmd');
  const set = (on: boolean): void => {
    const r = spawnSync(kamcmd, ['-s', `unix:${ctl}`, 'siptrace.status', on ? 'on' : 'off'], {
      encoding: 'utf8',
      timeout: 5000,
    });
    if (r.status !== 0 || !r.stdout.includes(on ? 'Enabled' : 'Disabled'))
      throw new Error(`kamcmd siptrace.status ${on ? 'on' : 'off'} failed: ${r.stdout}${r.stderr}`);
  };
  const uac = (calls: number, tag: string) => sippCalls(o, sipp, dir, ports.sip, calls, tag);
  const out: Array<{ mode: 'off' | 'on'; msPerCall: number; hepPerCall: number; ok: number }> = [];
  try {
    await waitForOptions(ports.sip, child, 15_000);
    await waitForBind(ports.uas, 'udp', uas.child, 10_000);
    const half = Math.max(1, Math.round((o.rate * o.warmup) / 2));
    set(true);
    await uac(half, 'warm-on');
    set(false);
    await uac(half, 'warm-off');
    await uas.waitIdle(Date.now(), 35_000);
    for (let round = 0; round < o.rounds; round++) {
      for (const mode of round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
        set(mode === 'on');
        const t0 = treeRunNs(child.pid);
        const c0 = treeCpuTicks(child.pid);
        const h0 = received;
        const r = await uac(o.rate * o.seconds, `${round}-${mode}`);
        await uas.waitIdle(Date.now(), 35_000);
        await new Promise((res) => setTimeout(res, 200)); // the last HEP datagrams in
        const t1 = treeRunNs(child.pid);
        const c1 = treeCpuTicks(child.pid);
        const n = Math.max(1, r.created);
        const ms = t0 !== null && t1 !== null ? (t1 - t0) / 1e6 : ((c1.ticks - c0.ticks) * 1000) / CLK_TCK;
        out.push({ mode, msPerCall: ms / n, hepPerCall: (received - h0) / n, ok: r.successful });
        say(
          o,
          `kamailio round ${round + 1} ${mode.padEnd(3)}: ${(ms / n).toFixed(3)} ms CPU per call, ${r.successful}/${r.created} calls ok, ${((received - h0) / n).toFixed(1)} HEP packets per call`,
        );
      }
    }
    return out;
  } finally {
    await uas.child.stop(2000, 'SIGINT');
    await child.stop(5000);
    collector.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Mean of on/off - 1 in percent, and the median of the per-round ratios (runs in pairs, as the rounds made them). */
function overheadOf(runs: Array<{ mode: 'off' | 'on'; cost: number }>): {
  off: number;
  on: number;
  mean: number;
  median: number;
  perRound: number[];
} {
  const mean = (m: 'off' | 'on'): number => {
    const xs = runs.filter((r) => r.mode === m).map((r) => r.cost);
    return xs.reduce((x, y) => x + y, 0) / Math.max(1, xs.length);
  };
  const perRound: number[] = [];
  for (let i = 0; i + 1 < runs.length; i += 2) {
    const a = runs[i]!;
    const b = runs[i + 1]!;
    const [offRun, onRun] = a.mode === 'off' ? [a, b] : [b, a];
    perRound.push((onRun.cost / offRun.cost - 1) * 100);
  }
  const sorted = [...perRound].sort((x, y) => x - y);
  const mid = sorted.length / 2;
  const median =
    sorted.length === 0
      ? NaN
      : sorted.length % 2 === 1
        ? sorted[Math.floor(mid)]!
        : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const off = mean('off');
  const on = mean('on');
  return { off, on, mean: (on / off - 1) * 100, median, perRound };
}

const pct = (x: number): string => `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`;

/** Requests per second of `make()` with `concurrency` in flight for `ms`. */
async function rps(
  ms: number,
  concurrency: number,
  make: (i: number) => Promise<Response>,
): Promise<{ rps: number; errors: number }> {
  const end = Date.now() + ms;
  let n = 0;
  let errors = 0;
  const worker = async (): Promise<void> => {
    while (Date.now() < end) {
      const r = await make(n++);
      if (!r.ok) errors++;
      await r.arrayBuffer();
    }
  };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { rps: (n * 1000) / (Date.now() - t0), errors };
}

/** The address of trunk `i`: one /32 each, 10.0.0.0/8 (no two trunks share a peer). */
const trunkIp = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

/** `count` POSTs to `path`, `inFlight` at a time; any answer but 201 stops the bench. */
async function seed(
  s: Server,
  path: string,
  count: number,
  inFlight: number,
  body: (i: number) => object,
): Promise<void> {
  const headers = { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' };
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (let i = next++; i < count; i = next++) {
        const r = await fetch(`${s.api}${path}`, { method: 'POST', headers, body: JSON.stringify(body(i)) });
        if (r.status !== 201) throw new Error(`seeding ${path}: ${r.status} ${await r.text()}`);
      }
    }),
  );
}

/**
 * The API with --rows trunks (static peers, one /32 each) spread over
 * --rows/100 accounts, all made through POST itself (16 in flight; the time
 * is reported). GET /api/v1/trunks without `limit` is the whole list in one
 * response, measured as such; `?limit=100&cursor=` pages are measured at
 * random places in the list (the cursors found by walking it once), and
 * `?account=` (100 trunks) as a filter.
 */
async function apiBench(o: Opts): Promise<Record<string, unknown>> {
  const s = await startServer(null, 0);
  try {
    const headers = { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' };
    const accounts = Math.max(1, Math.ceil(o.rows / 100));
    const t0 = Date.now();
    await seed(s, '/api/v1/accounts', accounts, 16, (i) => ({ name: `acct${i}` }));
    await seed(s, '/api/v1/trunks', o.rows, 16, (i) => ({
      name: `t${i}`,
      account: `acct${i % accounts}`,
      ip: [trunkIp(i)],
    }));
    const seedMs = Date.now() - t0;
    const check = await fetch(`${s.api}/api/v1/trunks`, { headers });
    const all = (await check.json()) as unknown[];
    if (all.length !== o.rows) throw new Error(`GET /api/v1/trunks gave ${all.length} trunks, ${o.rows} made`);
    const listBytes = JSON.stringify(all).length;
    const list = await rps(5000, 8, () => fetch(`${s.api}/api/v1/trunks`, { headers }));
    // Walk the list once by pages of 100 (every trunk once), keeping each page's cursor.
    const cursors: string[] = [''];
    let walked = 0;
    for (;;) {
      const r = await fetch(
        `${s.api}/api/v1/trunks?limit=100${cursors[cursors.length - 1] === '' ? '' : `&cursor=${cursors[cursors.length - 1]}`}`,
        { headers },
      );
      walked += ((await r.json()) as unknown[]).length;
      const next = r.headers.get('next-cursor');
      if (next === null) break;
      cursors.push(next);
    }
    if (walked !== o.rows)
      throw new Error(`pages of GET /api/v1/trunks?limit=100 gave ${walked} trunks, ${o.rows} made`);
    const paged = await rps(5000, 8, (i) => {
      const c = cursors[(i * 7919) % cursors.length]!;
      return fetch(`${s.api}/api/v1/trunks?limit=100${c === '' ? '' : `&cursor=${c}`}`, { headers });
    });
    const byAccount = await rps(5000, 8, (i) =>
      fetch(`${s.api}/api/v1/trunks?account=acct${i % accounts}`, { headers }),
    );
    const one = await rps(5000, 8, (i) => fetch(`${s.api}/api/v1/trunks/t${(i * 7919) % o.rows}`, { headers }));
    const create = await rps(5000, 8, (i) =>
      fetch(`${s.api}/api/v1/trunks`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ name: `new${i}`, account: `acct${i % accounts}`, ip: [trunkIp(o.rows + i)] }),
      }),
    );
    return {
      rows: o.rows,
      accounts,
      seedMs,
      seedPerSecond: ((o.rows + accounts) * 1000) / seedMs,
      listBytes,
      listPerSecond: list.rps,
      listErrors: list.errors,
      pages: cursors.length,
      pagePerSecond: paged.rps,
      pageErrors: paged.errors,
      accountListPerSecond: byAccount.rps,
      accountListErrors: byAccount.errors,
      getPerSecond: one.rps,
      getErrors: one.errors,
      createPerSecond: create.rps,
      createErrors: create.errors,
    };
  } finally {
    await s.child.stop(5000);
    rmSync(s.dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  installCleanupHandlers();
  const sipp = 'sipp';
  const hepPort = await freePort();
  // The collector: a UDP socket or a TCP listener counting what arrives (datagrams; bytes over TCP).
  let hepReceived = 0;
  const sink = createSocket('udp4');
  sink.on('message', () => hepReceived++);
  const tcpSink = createServer((c) =>
    c.on('data', (d: Buffer) => (hepReceived += d.length)).on('error', () => undefined),
  );
  if (o.hep === 'udp') await new Promise<void>((r) => sink.bind(hepPort, '127.0.0.1', () => r()));
  else await new Promise<void>((r) => tcpSink.listen(hepPort, '127.0.0.1', () => r()));
  const load0 = loadavg();
  const runs: Array<Run & { mode: 'off' | 'on' }> = [];
  try {
    const report = (mode: 'off' | 'on', r: Run): void => {
      runs.push({ mode, ...r });
      const round = Math.ceil(runs.length / 2);
      say(
        o,
        `round ${round} ${mode.padEnd(3)}: ${cost(r).toFixed(3)} ms CPU per call${hasSchedstat ? ` (scheduler's run time; ticks: ${r.cpuMsPerCall.toFixed(3)},` : ' ('} user ${r.userMsPerCall.toFixed(3)}, system ${r.sysMsPerCall.toFixed(3)}), ${r.ok}/${r.calls} calls ok${mode === 'on' ? `, ${r.hep} HEP packets, ${r.scrapes} scrapes, ${r.events} SSE bytes` : ''}`,
      );
      say(
        o,
        `    by thread (ms per call): ${threadLine(r.threads)}${r.gc !== null ? `; GC: ${r.gc.scavenges} scavenges, ${r.gc.markCompacts} mark-compacts, ${r.gc.ms.toFixed(0)} ms, heap ${r.gc.heapMb} MB after the last${r.gc.reasons.length > 0 ? `; mark-compacts: ${r.gc.reasons.join('; ')}` : ''}` : ''}`,
      );
    };
    if (o.fresh) {
      for (let round = 0; round < o.rounds; round++) {
        // ABBA: off first in even rounds, on first in odd ones (the second server of a round runs on a machine the first just left).
        for (const mode of round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const))
          report(mode, await freshRun(o, mode === 'on', sipp, hepPort));
      }
    } else await liveRuns(o, sipp, hepPort, report);
    let t: ReturnType<typeof overheadOf> | null = null;
    if (runs.length > 0) {
      // Where the difference lives: per thread name, mean over the runs of each mode.
      const byThread = (m: 'off' | 'on'): Record<string, number> => {
        const xs = runs.filter((r) => r.mode === m);
        const sum: Record<string, number> = {};
        for (const r of xs) for (const [k, v] of Object.entries(r.threads)) sum[k] = (sum[k] ?? 0) + v / xs.length;
        return sum;
      };
      say(o, `by thread, mean (ms per call): off ${threadLine(byThread('off'))}`);
      say(o, `                               on  ${threadLine(byThread('on'))}`);
      t = overheadOf(runs.map((r) => ({ mode: r.mode, cost: cost(r) })));
      say(o, `HEP over ${o.hep}, "on" = ${[...o.parts].join('+')}`);
      say(
        o,
        `signalling CPU per call at ${o.rate} calls/s, mean of ${o.rounds} interleaved rounds: off ${t.off.toFixed(3)} ms, on ${t.on.toFixed(3)} ms: ${pct(t.mean)} (target at most +10%)`,
      );
      // Per round (the two runs of a round back to back): the median of on/off, less moved by one disturbed run.
      say(o, `  per round: ${t.perRound.map(pct).join(' ')}; median ${pct(t.median)}`);
    }
    say(
      o,
      `load average ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')} (at start ${load0.map((x) => x.toFixed(2)).join(' ')}), ${cpus().length} CPUs`,
    );
    let peer: (ReturnType<typeof overheadOf> & { hepPerCall: number }) | null = null;
    const kamailio = o.kamailio ? findKamailio() : undefined;
    if (o.kamailio && kamailio === undefined)
      say(o, 'kamailio not installed: no peer figures (scripts/install-deps.sh installs it)');
    if (kamailio !== undefined && t !== null) {
      const k = await kamailioRuns(o, sipp, kamailio);
      const ko = overheadOf(k.map((r) => ({ mode: r.mode, cost: r.msPerCall })));
      const on = k.filter((r) => r.mode === 'on');
      peer = { ...ko, hepPerCall: on.reduce((x, r) => x + r.hepPerCall, 0) / Math.max(1, on.length) };
      say(
        o,
        `kamailio (siptrace, HEP over udp, one worker, -x tlsf), mean of ${o.rounds} interleaved rounds: off ${ko.off.toFixed(3)} ms, on ${ko.on.toFixed(3)} ms: ${pct(ko.mean)}; per round: ${ko.perRound.map(pct).join(' ')}; median ${pct(ko.median)}`,
      );
      say(o, '');
      say(o, `                    off ms/call   on ms/call   overhead (mean, median)`);
      say(
        o,
        `  Trunkline         ${t.off.toFixed(3).padStart(11)}   ${t.on.toFixed(3).padStart(10)}   ${pct(t.mean)}, ${pct(t.median)}   (HEP over ${o.hep}, on = ${[...o.parts].join('+')})`,
      );
      say(
        o,
        `  Kamailio          ${ko.off.toFixed(3).padStart(11)}   ${ko.on.toFixed(3).padStart(10)}   ${pct(ko.mean)}, ${pct(ko.median)}   (siptrace HEP over udp)`,
      );
      say(
        o,
        `  Trunkline/Kamailio ${(t.off / ko.off).toFixed(2).padStart(10)}   ${(t.on / ko.on).toFixed(2).padStart(10)}   extra ms per call: Trunkline ${(t.on - t.off).toFixed(3)}, Kamailio ${(ko.on - ko.off).toFixed(3)}`,
      );
    }
    let api: Record<string, unknown> | null = null;
    if (!o.noApi) {
      const r = await apiBench(o);
      api = r;
      const n = (k: string, d = 0): string => Number(r[k]).toFixed(d);
      say(
        o,
        `API with ${o.rows} trunks in ${n('accounts')} accounts (made by POST in ${n('seedMs')} ms, ${n('seedPerSecond')}/s, 16 in flight); 8 requests in flight:`,
      );
      say(
        o,
        `  GET /api/v1/trunks (all ${o.rows}, ${n('listBytes')} bytes) ${n('listPerSecond', 1)}/s; GET ?account= (${Math.round(o.rows / Number(r.accounts))} trunks) ${n('accountListPerSecond')}/s`,
      );
      say(
        o,
        `  GET /api/v1/trunks?limit=100&cursor= (a page of 100 at random among ${n('pages')}) ${n('pagePerSecond')}/s`,
      );
      say(
        o,
        `  GET /api/v1/trunks/NAME ${n('getPerSecond')}/s; POST /api/v1/trunks ${n('createPerSecond')}/s; errors: ${n('listErrors')} ${n('pageErrors')} ${n('accountListErrors')} ${n('getErrors')} ${n('createErrors')}`,
      );
    }
    if (o.json)
      process.stdout.write(
        `${JSON.stringify({ rate: o.rate, seconds: o.seconds, runs, offMsPerCall: t?.off ?? null, onMsPerCall: t?.on ?? null, overheadPercent: t?.mean ?? null, medianOverheadPercent: t?.median ?? null, kamailio: peer, hepReceived, loadavg: loadavg(), api }, null, 2)}\n`,
      );
  } finally {
    if (o.hep === 'udp') sink.close();
    else tcpSink.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/ops: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
