/**
 * Cluster benchmark: what cluster mode costs a node, and what a second node
 * gives on this machine. Its own redis-server on a free port (startRedis,
 * as the tests start it) and a PostgreSQL schema of its own (database
 * `test` at 127.0.0.1:5432, or DATABASE_URL_TEST) shared by every node as
 * the store. The call is bench/b2bua's outbound shape (bench/common/trunk-call.ts):
 *
 *   SIPp UAC 127.0.0.2 (a static-IP trunk) -> Trunkline B2BUA -> carrier gateway SIPp UAS 127.0.0.6
 *
 * Part `cpu`: the same Trunkline build twice, side by side, one after the
 * other at each rate: `alone` (no `cluster:`) and `n1` (`cluster:` on the
 * Redis). CPU per call: utime+stime of the node's process (all threads,
 * the media relay's included) from /proc, before the UAC starts and 0.5 s
 * after it ended, divided by the calls it placed; Redis's own CPU per call
 * beside it. Set-up latency: INVITE -> 200 of a probe caller placing one
 * call at a time beside the SIPp load (probe.ts: hrtime; SIPp's own
 * response times step by 4 ms here), at a tenth of the step's rate (at
 * least 10 calls/s), so p99 rests on about 100 calls per 10 s at 100/s.
 * Target: the cluster node's CPU per call at most 1.15x alone's.
 *
 * Part `scale`: a second cluster node `n2` (same host, its own port and
 * media ports); at each rate, all calls to n1 alone, then half to n1 and
 * half to n2 at once (one UAC per node). Clean calls per second: the calls
 * that succeeded over the UAC's wall-clock run. SIPp, the nodes and Redis
 * share this machine's CPUs: on 2 cores this says where one host tops out,
 * not what two hosts would carry.
 *
 * Usage: node dist/bench/cluster/run.js [--rates 100,200,300] [--seconds 10] [--warmup 3] [--json]
 *        [--parts cpu,scale] [--media builtin|none] [--keep]
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort } from '../../test/helpers/ports.js';
import { connectPostgres, schemaUrl } from '../../test/helpers/postgres.js';
import { redisSkip, startRedis, type TestRedis } from '../../test/helpers/redis.js';
import { openStore } from '../../src/store/index.js';
import { Child, installCleanupHandlers, stopAll } from '../common/children.js';
import { parseCommonArgs, progress, setUp, usageError, type CommonOptions } from '../common/cli.js';
import { idleCpuMsPerSecond, processTree, treeCpuTicks } from '../common/procstat.js';
import { runUac, sleep, Uas } from '../common/sipp.js';
import {
  CLI,
  GATEWAY_IP,
  TRUNK_IP,
  UAC_TRUNK,
  UAS_RR,
  outboundUacArgs,
  provisionTrunkCalls,
} from '../common/trunk-call.js';
import { fmt, latency, probeInterval, ratio, split, type Latency } from './figures.js';
import { SetupProbe, type ProbeResult } from './probe.js';

const BENCH = 'bench/cluster';
const PARTS = ['cpu', 'scale'] as const;
type Part = (typeof PARTS)[number];
/** The cluster node's CPU per call may be at most this times the node alone's. */
const TARGET_RATIO = 1.15;

const USAGE = [
  `usage: node dist/bench/cluster/run.js [options]   (build first: npm run build)`,
  '  --rates LIST     calls per second, comma-separated (default 100,200,300)',
  '  --seconds N      seconds per rate (default 10)',
  '  --warmup N       seconds at the lowest rate on each node before the ladder, not reported (default 3; 0: none)',
  '  --parts LIST     cpu (alone vs cluster node), scale (2 nodes vs 1); default both',
  '  --media builtin|none  the media relay anchoring each call (default builtin), or none',
  '  --json           print one JSON object instead of the tables',
  '  --keep           keep the temp dir (configs, logs, SIPp CSVs) and print its path',
  '  -h, --help       this text',
].join('\n');

interface Options extends CommonOptions {
  parts: Part[];
  media: 'builtin' | 'none';
}

function parseArgs(argv: string[]): Options {
  for (const a of argv)
    if (/^--(only|kamailio-workers)(=|$)/.test(a)) usageError(BENCH, USAGE, `${a.split('=')[0]}: not an option here`);
  let parts: Part[] = [...PARTS];
  let media: Options['media'] = 'builtin';
  const common = parseCommonArgs(argv, {
    bench: BENCH,
    usage: USAGE,
    defaults: {
      rates: [100, 200, 300],
      seconds: 10,
      only: null,
      json: false,
      kamailioWorkers: 1,
      warmup: 3,
      keep: false,
    },
    extra: (flag, value) => {
      if (flag === '--parts') {
        const list = value()
          .split(',')
          .map((s) => s.trim());
        if (list.length === 0 || list.some((p) => !(PARTS as readonly string[]).includes(p)))
          usageError(BENCH, USAGE, `--parts: ${PARTS.join(', ')}, comma-separated`);
        parts = list as Part[];
        return true;
      }
      if (flag === '--media') {
        const m = value();
        if (m !== 'builtin' && m !== 'none') usageError(BENCH, USAGE, '--media: builtin or none');
        media = m as Options['media'];
        return true;
      }
      return false;
    },
  });
  // No Kamailio here: setUp looks for SIPp only.
  return { ...common, only: 'trunkline', parts, media };
}

/** A Trunkline process of the run. */
interface Node {
  name: string;
  child: Child;
  /** Its UDP listener. */
  host: string;
  port: number;
}

async function startNode(o: {
  name: string;
  dir: string;
  port: number;
  mediaPorts: string;
  databaseUrl: string;
  media: string;
  redisUrl: string | null;
}): Promise<Node> {
  const dir = join(o.dir, o.name);
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'trunkline.yaml');
  writeFileSync(
    config,
    [
      `data: ${JSON.stringify(join(dir, 'data'))}`,
      `database: ${JSON.stringify(o.databaseUrl)}`,
      `listen: [udp:127.0.0.1:${o.port}]`,
      `api: {listen: 127.0.0.1:${await freePort()}}`,
      // No OPTIONS to the gateway: the UAS scenario takes INVITEs only.
      'trunking: {ping: {interval: 0}}',
      `media: {engine: ${o.media}, ports: ${o.mediaPorts}}`,
      ...(o.redisUrl === null ? [] : ['cluster:', `  redis: ${JSON.stringify(o.redisUrl)}`, `  node: ${o.name}`]),
      '',
    ].join('\n'),
  );
  const log = join(dir, 'trunkline.log');
  const child = new Child(`trunkline ${o.name}`, process.execPath, [CLI, 'serve', '--config', config], log, dir);
  const deadline = Date.now() + 20_000;
  for (;;) {
    let out = '';
    try {
      out = readFileSync(log, 'utf8');
    } catch {
      // not written yet
    }
    if (out.includes('"msg":"trunkline started"')) break;
    if (child.exited) throw new Error(`${child.name} exited at start (${child.describeExit()}):\n${child.logTail()}`);
    if (Date.now() > deadline) {
      await child.stop();
      throw new Error(`${child.name} did not start in 20 s:\n${child.logTail()}`);
    }
    await sleep(100);
  }
  return { name: o.name, child, host: '127.0.0.1', port: o.port };
}

/** The redis-server process this benchmark started (a child of ours), for its CPU. */
function redisPid(): number | null {
  for (const p of processTree(process.pid)) {
    try {
      if (readFileSync(`/proc/${p.pid}/comm`, 'utf8').trim() === 'redis-server') return p.pid;
    } catch {
      // gone meanwhile
    }
  }
  return null;
}

/** One step: a UAC per node at its share of the rate, all at once. */
interface Step {
  rate: number;
  nodes: string[];
  /** Calls SIPp placed (the probe's apart). */
  calls: number;
  ok: number;
  failed: number;
  /** The probe's calls, and those of them not answered 200. */
  probeCalls: number;
  probeFailed: number;
  unfinished: number;
  retrans: number;
  wallSeconds: number;
  /** Successful calls per second of the UAC run (the longest when there are two). */
  cleanRate: number;
  /** CPU of the nodes together per call placed (SIPp's and the probe's). */
  cpuMsPerCall: number | null;
  /** CPU of redis-server per call placed (null without a cluster node). */
  redisMsPerCall: number | null;
  latency: Latency;
  failures: Record<string, number>;
}

let stepNo = 0;

async function callStep(o: {
  dir: string;
  sipp: string;
  seconds: number;
  load: Array<{ node: Node; rate: number }>;
  redis: number | null;
  clk: number;
}): Promise<Step> {
  const load = o.load.filter((l) => l.rate > 0);
  const runs = await Promise.all(
    load.map(async (l) => {
      const dir = join(o.dir, `step-${++stepNo}-${l.node.name}-${l.rate}`);
      mkdirSync(dir, { recursive: true });
      return {
        ...l,
        dir,
        localPort: await freePort(TRUNK_IP),
        controlPort: await freePort(),
        probe: await SetupProbe.open(TRUNK_IP, await freePort(TRUNK_IP)),
      };
    }),
  );
  const cpuBefore = runs.map((r) => treeCpuTicks(r.node.child.pid).ticks);
  const redisBefore = o.redis === null ? 0 : treeCpuTicks(o.redis).ticks;
  const probes = runs.map((r) => r.probe.run(r.node.host, r.node.port, probeInterval(r.rate)));
  const results = await Promise.all(
    runs.map((r) =>
      runUac({
        sipp: o.sipp,
        scenario: UAC_TRUNK,
        dir: r.dir,
        target: `${r.node.host}:${r.node.port}`,
        ip: TRUNK_IP,
        localPort: r.localPort,
        transport: 'udp',
        rate: r.rate,
        calls: Math.max(1, Math.round(r.rate * o.seconds)),
        limit: Math.max(10, r.rate * 4),
        recvTimeoutMs: 10_000,
        deadlineMs: (o.seconds + 30) * 1000,
        statsFile: join(r.dir, 'uac-stats.csv'),
        controlPort: r.controlPort,
        extra: outboundUacArgs(),
      }),
    ),
  );
  const probed: ProbeResult[] = await Promise.all(probes.map((stop) => stop()));
  for (const r of runs) r.probe.close();
  // The last BYEs' transactions and CDR writes.
  await sleep(500);
  const cpuTicks = runs.reduce((sum, r, i) => sum + treeCpuTicks(r.node.child.pid).ticks - cpuBefore[i]!, 0);
  const redisTicks = o.redis === null ? null : treeCpuTicks(o.redis).ticks - redisBefore;
  const times = probed.flatMap((p) => p.times);
  const probeFailed = probed.reduce((s, p) => s + p.failed, 0);
  const calls = results.reduce((s, r) => s + r.created, 0);
  const placed = calls + times.length + probeFailed;
  const ok = results.reduce((s, r) => s + r.successful, 0);
  const wallSeconds = Math.max(...results.map((r) => r.wallSeconds));
  const failures: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.failureKinds)) failures[k] = (failures[k] ?? 0) + v;
  const perCall = (ticks: number | null): number | null =>
    ticks === null || placed === 0 ? null : (ticks * 1000) / o.clk / placed;
  return {
    rate: load.reduce((s, l) => s + l.rate, 0),
    nodes: load.map((l) => l.node.name),
    calls,
    ok,
    failed: results.reduce((s, r) => s + r.failedCalls, 0),
    probeCalls: times.length + probeFailed,
    probeFailed,
    unfinished: results.reduce((s, r) => s + r.unfinished, 0),
    retrans: results.reduce((s, r) => s + r.retransmissions, 0),
    wallSeconds,
    cleanRate: wallSeconds > 0 ? ok / wallSeconds : 0,
    cpuMsPerCall: perCall(cpuTicks),
    redisMsPerCall: o.load.some((l) => l.node.name !== 'alone') ? perCall(redisTicks) : null,
    latency: latency(times),
    failures,
  };
}

function stepLine(label: string, s: Step): string {
  const kinds = Object.entries(s.failures)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return (
    `${label.padEnd(14)} ${String(s.rate).padStart(4)}/s  ok ${s.ok}/${s.calls}  failed ${s.failed}` +
    `${kinds === '' ? '' : ` (${kinds})`}  retrans ${s.retrans}  cpu ${fmt(s.cpuMsPerCall)} ms/call` +
    `  probe ${s.probeCalls - s.probeFailed}/${s.probeCalls} INVITE->200 p50 ${fmt(s.latency.p50, 2)} p99 ${fmt(s.latency.p99, 2)} ms`
  );
}

interface CpuRow {
  rate: number;
  alone: Step;
  cluster: Step;
  cpuRatio: number | null;
}

interface ScaleRow {
  rate: number;
  one: Step;
  two: Step;
  /** Two nodes' clean calls per second over one node's. */
  gain: number | null;
}

function cpuTable(rows: CpuRow[], idle: Record<string, number>): string[] {
  const p = (s: string | number, n: number): string => String(s).padStart(n);
  const lat = (v: number): string => p(fmt(v, 2), 6);
  const side = (s: Step, redis: boolean): string =>
    `${p(`${s.ok}/${s.failed}`, 9)} ${p(s.retrans, 7)} ${p(fmt(s.cpuMsPerCall), 8)}${redis ? ` ${p(fmt(s.redisMsPerCall), 6)}` : ''} ${lat(s.latency.p50)} ${lat(s.latency.p99)}`;
  const out = [
    '',
    'CPU per call and call set-up (INVITE -> 200 of the probe), the same node alone and in cluster mode, same run',
    `idle CPU: alone ${fmt(idle['alone'], 1)} ms/s, cluster node ${fmt(idle['n1'], 1)} ms/s`,
    '',
    'rate/s |    alone: ok/failed retrans  ms/call    p50    p99 |  cluster: ok/failed retrans  ms/call  redis    p50    p99 | cpu x   +p50   +p99',
  ];
  for (const r of rows) {
    const a = r.alone;
    const c = r.cluster;
    out.push(
      `${p(r.rate, 6)} | ${p('', 8)}${side(a, false)} | ${p('', 8)}${side(c, true)} | ${p(fmt(r.cpuRatio, 2), 5)} ${lat(c.latency.p50 - a.latency.p50)} ${lat(c.latency.p99 - a.latency.p99)}`,
    );
  }
  out.push(
    'ms/call: CPU of the node (all threads) per call; redis: CPU of redis-server per call; p50/p99 in ms',
    `(${rows.map((r) => `${r.rate}/s: ${r.alone.probeCalls}+${r.cluster.probeCalls} probe calls`).join(', ')})`,
  );
  return out;
}

function scaleTable(rows: ScaleRow[], cpus: number): string[] {
  const p = (s: string | number, n: number): string => String(s).padStart(n);
  const out = [
    '',
    `Two cluster nodes against one, on this machine (${cpus} CPUs shared by SIPp, the nodes and Redis)`,
    '',
    'offered/s |  1 node: ok/failed  retrans  clean/s  ms/call |  2 nodes: ok/failed  retrans  clean/s  ms/call |   2/1',
  ];
  for (const r of rows) {
    const cell = (s: Step): string =>
      `${p(`${s.ok}/${s.failed}`, 19)} ${p(s.retrans, 8)} ${p(fmt(s.cleanRate, 1), 8)} ${p(fmt(s.cpuMsPerCall), 8)}`;
    out.push(`${p(r.rate, 9)} | ${cell(r.one)} | ${cell(r.two)} | ${p(fmt(r.gain, 2), 5)}`);
  }
  out.push(
    'clean/s: successful calls per second of the UAC run; ms/call: CPU of the nodes together per call (Redis not included)',
  );
  return out;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const { sipp, machine } = setUp(
    BENCH,
    USAGE,
    opts,
    `cluster node vs alone, 2 nodes vs 1 (${opts.parts.join(', ')}; media ${opts.media})`,
  );
  const noRedis = redisSkip();
  if (noRedis !== false) usageError(BENCH, USAGE, noRedis);
  const pg = await connectPostgres();
  if (typeof pg === 'string') usageError(BENCH, USAGE, pg);
  let redis: TestRedis | undefined;
  installCleanupHandlers(() => void redis?.stop());

  const dir = mkdtempSync(join(tmpdir(), 'trunkline-bench-cluster-'));
  const schema = `tl_bench_cluster_${process.pid}_${randomBytes(3).toString('hex')}`;
  const nodes = new Map<string, Node>();
  const cpuRows: CpuRow[] = [];
  const scaleRows: ScaleRow[] = [];
  const idle: Record<string, number> = {};
  let error: string | undefined;
  try {
    await pg.query(`create schema ${schema}`);
    const databaseUrl = schemaUrl(schema);
    redis = await startRedis();
    const redisProc = redisPid();
    const uasPort = await freePort(GATEWAY_IP);
    const store = await openStore({ kind: 'postgres', url: databaseUrl });
    try {
      await provisionTrunkCalls(store, {
        trunkDest: 'sip:127.0.0.3:5060',
        gateways: [`sip:${GATEWAY_IP}:${uasPort}`],
      });
    } finally {
      await store.close();
    }
    const uasDir = join(dir, 'uas');
    mkdirSync(uasDir);
    const uas = Uas.start({
      sipp,
      scenario: UAS_RR,
      dir: uasDir,
      ip: GATEWAY_IP,
      port: uasPort,
      transport: 'udp',
      recvTimeoutMs: 10_000,
      controlPort: await freePort(),
    });
    const node = async (name: string, mediaPorts: string, cluster: boolean): Promise<Node> => {
      const n = await startNode({
        name,
        dir,
        port: await freePort(),
        mediaPorts,
        databaseUrl,
        media: opts.media,
        redisUrl: cluster ? redis!.url : null,
      });
      nodes.set(name, n);
      return n;
    };
    const step = (load: Array<{ node: Node; rate: number }>, seconds: number): Promise<Step> =>
      callStep({ dir, sipp, seconds, load, redis: redisProc, clk: machine.clockTicksPerSecond });
    const low = Math.min(...opts.rates);
    const warm = async (list: Node[]): Promise<void> => {
      if (opts.warmup <= 0) return;
      for (const n of list) {
        const s = await step([{ node: n, rate: low }], opts.warmup);
        progress(opts, stepLine(`warm-up ${n.name}`, s));
      }
    };

    const n1 = await node('n1', '44000-46999', true);
    if (opts.parts.includes('cpu')) {
      const alone = await node('alone', '41000-43999', false);
      await sleep(1000);
      const [ia, ic] = await Promise.all([
        idleCpuMsPerSecond(alone.child.pid, 3000, machine.clockTicksPerSecond),
        idleCpuMsPerSecond(n1.child.pid, 3000, machine.clockTicksPerSecond),
      ]);
      idle['alone'] = ia.msPerSecond;
      idle['n1'] = ic.msPerSecond;
      await warm([alone, n1]);
      for (const [i, rate] of opts.rates.entries()) {
        // Alternate who goes first, so that neither always runs on a machine the other just warmed.
        const order = i % 2 === 0 ? [alone, n1] : [n1, alone];
        const got = new Map<string, Step>();
        for (const n of order) {
          const s = await step([{ node: n, rate }], opts.seconds);
          got.set(n.name, s);
          progress(opts, stepLine(n.name === 'alone' ? 'alone' : 'cluster n1', s));
          await sleep(1000);
        }
        const a = got.get('alone')!;
        const c = got.get('n1')!;
        cpuRows.push({ rate, alone: a, cluster: c, cpuRatio: ratio(c.cpuMsPerCall, a.cpuMsPerCall) });
      }
      await alone.child.stop(15_000);
      nodes.delete('alone');
    }
    if (opts.parts.includes('scale')) {
      const n2 = await node('n2', '47000-49999', true);
      await sleep(1000);
      await warm(opts.parts.includes('cpu') ? [n2] : [n1, n2]);
      for (const rate of opts.rates) {
        const one = await step([{ node: n1, rate }], opts.seconds);
        progress(opts, stepLine('1 node', one));
        await sleep(1000);
        const [r1, r2] = split(rate);
        const two = await step(
          [
            { node: n1, rate: r1 },
            { node: n2, rate: r2 },
          ],
          opts.seconds,
        );
        progress(opts, stepLine('2 nodes', two));
        await sleep(1000);
        scaleRows.push({ rate, one, two, gain: ratio(two.cleanRate, one.cleanRate) });
      }
    }
    if (uas.child.exited) throw new Error(`the SIPp UAS exited mid-run (${uas.child.describeExit()})`);
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  } finally {
    await Promise.all([...nodes.values()].map((n) => n.child.stop(15_000)));
    await stopAll();
    await redis?.stop();
    await pg.query(`drop schema if exists ${schema} cascade`).catch(() => undefined);
    await pg.end().catch(() => undefined);
  }

  const worst = cpuRows.reduce<number | null>((w, r) => (r.cpuRatio === null ? w : Math.max(w ?? 0, r.cpuRatio)), null);
  const verdict =
    cpuRows.length === 0
      ? 'target not evaluated (no cpu part)'
      : worst === null
        ? 'target not evaluated: no CPU figures'
        : `target: cluster node CPU per call <= ${TARGET_RATIO.toFixed(2)}x alone: ${worst <= TARGET_RATIO ? 'met' : 'NOT met'} (worst ${worst.toFixed(2)}x)`;
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({ machine, options: opts, idleCpuMsPerSecond: idle, cpu: cpuRows, scale: scaleRows, targetRatio: TARGET_RATIO, worstCpuRatio: worst, verdict, error }, null, 2)}\n`,
    );
  } else {
    const out: string[] = [];
    if (cpuRows.length > 0) out.push(...cpuTable(cpuRows, idle), verdict);
    if (scaleRows.length > 0) out.push(...scaleTable(scaleRows, machine.cpus));
    if (error !== undefined) out.push('', `ERROR: ${error}`);
    process.stdout.write(`${out.join('\n')}\n`);
  }
  if (opts.keep) progress(opts, `kept: ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
  process.exitCode = error === undefined ? 0 : 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`${BENCH}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
