/**
 * Proxy benchmark: the same SIPp call scenario through Trunkline and through
 * Kamailio 5.6 (the reference: a minimal stateful tm/rr/sl config,
 * kamailio-proxy.cfg, one worker, -x tlsf), on this machine, at the same
 * ladder of call rates, one server after the other, loopback only.
 *
 * Per server: a temp dir with its config on free loopback ports; the server
 * is started and must answer an OPTIONS (Max-Forwards 0, so it answers
 * itself); a SIPp UAS (uas-rr.xml: copies Record-Route into its 180/200,
 * answers BYE) runs behind it; its idle CPU is sampled for 3 s; a warm-up
 * step at the lowest rate (--warmup, not reported) lets the JIT and the
 * allocators settle; then for each rate a SIPp UAC (uac-rr.xml: INVITE, then
 * ACK and BYE along the Route set) places rate * seconds calls at that rate.
 *
 * CPU: utime+stime (+cutime+cstime) from /proc/PID/stat summed over the
 * server's process tree (all of Kamailio's processes; Node.js with all its
 * threads), sampled just before the UAC starts and once the UAS has no open
 * call after it (so deferred work, transaction cleanup and GC, is counted;
 * both servers idle at about 0). CPU ms per call = difference / calls the
 * UAC started. The JSON also has the figure at the UAC's exit.
 *
 * Per rate and server: successful calls, failed calls (every call of the
 * step that did not succeed: failed, unfinished at the deadline, or never
 * started), retransmissions (UAC + UAS), CPU ms per call, and "clean": all
 * calls ok, no retransmission, and the UAS got the ACK of every call.
 *
 * Target: Trunkline at or below Kamailio's CPU per call at
 * every rate, and clean at every rate where Kamailio is clean. The verdict
 * is printed; the exit code is 1 only when a run could not be completed.
 *
 * Usage: node dist/bench/proxy/run.js [options]   (see USAGE below)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installCleanupHandlers } from '../common/children.js';
import { cpuMsBetween, idleCpuMsPerSecond, treeCpuTicks } from '../common/procstat.js';
import { Uas, UasExited, runUac, type Transport, type UasCounters } from '../common/sipp.js';
import { waitForBind, waitForOptions } from '../common/readiness.js';
import {
  commonUsage,
  distinctFreePorts,
  firstLine,
  parseCommonArgs,
  progress,
  setUp,
  shellQuote,
  usageError,
  type CommonOptions,
  type ServerName,
} from '../common/cli.js';
import { fmtMs, formatTable, idleNote, ratio, verdict } from '../common/report.js';
import {
  relayLabel,
  startKamailio,
  startNodeRelay,
  startTrunkline,
  type ProxyUnderTest,
  type ServerPorts,
} from './servers.js';
import { formatWork, workEquivalent, type WorkPoint } from './work-scale.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HERE = join(ROOT, 'bench', 'proxy');
const UAC_SCENARIO = join(HERE, 'uac-rr.xml');
const UAS_SCENARIO = join(HERE, 'uas-rr.xml');
const KAMAILIO_TEMPLATE = join(HERE, 'kamailio-proxy.cfg');

/** The UAC is killed this long after the step's nominal duration. */
const DEADLINE_SLACK_MS = 20_000;
/** A call waiting this long for an expected message fails (UAC); it ends well before the deadline. */
const UAC_RECV_TIMEOUT_MS = 10_000;
/** The UAS gives up on a call that never gets its BYE after this. */
const UAS_RECV_TIMEOUT_MS = 20_000;
/** Idle CPU is sampled over this window after start. */
const IDLE_SAMPLE_MS = 3000;
/** The UAC's -l: at most this many calls open at once (4 s worth), so an overloaded proxy is not buried. */
function uacCallLimit(rate: number): number {
  return Math.max(200, rate * 4);
}
/** Between steps: how long to wait for the UAS to have no open call (timewait is 4 s). */
const IDLE_TIMEOUT_MS = 35_000;

const DEFAULT_TRUNKLINE_CMD = `${shellQuote(process.execPath)} ${shellQuote(join(ROOT, 'dist/src/cli/main.js'))} serve --config {config}`;

const BENCH = 'bench/proxy';
const DEFAULTS: CommonOptions = {
  rates: [100, 200, 300, 450, 600],
  seconds: 10,
  only: null,
  json: false,
  kamailioWorkers: 1,
  warmup: 3,
  keep: false,
};

const USAGE = [
  'usage: node dist/bench/proxy/run.js [options]',
  ...commonUsage('calls', DEFAULTS),
  '  --transport udp|tcp     SIPp transport: udp (-t u1) or tcp (-t t1, one connection) (default udp)',
  '  --trunkline-cmd CMD     how to start Trunkline, run by /bin/sh; {config} is the generated YAML',
  '                          (appended as --config FILE when absent), {port} the SIP port, {uas_port} the UAS port',
  '                          (default: node dist/src/cli/main.js serve --config {config})',
  '  --floor                 also run node-relay.js, a Node.js UDP relay doing no SIP work at all: the floor',
  "                          of any proxy on Node's dgram, printed beside Kamailio (UDP only)",
  '  --floor-work LIST       with --floor implied: run the relay once per value, busy for that many us of CPU',
  "                          before relaying each datagram (0 is the floor); the report places Trunkline's and",
  "                          2x Kamailio's CPU per call on that scale (us of a proxy's own work a message)",
].join('\n');

interface Options extends CommonOptions {
  transport: Transport;
  trunklineCmd: string;
  /** us of busy work a datagram for each run of the Node.js relay; empty without --floor. */
  floorWork: number[];
}

function parseArgs(argv: string[]): Options {
  let transport: Transport = 'udp';
  let trunklineCmd = DEFAULT_TRUNKLINE_CMD;
  let floorWork: number[] = [];
  const common = parseCommonArgs(argv, {
    bench: BENCH,
    usage: USAGE,
    defaults: DEFAULTS,
    extra: (flag, value) => {
      if (flag === '--transport') {
        const t = value().toLowerCase();
        if (t !== 'udp' && t !== 'tcp') usageError(BENCH, USAGE, '--transport: udp or tcp');
        transport = t as Transport;
        return true;
      }
      if (flag === '--floor') {
        if (floorWork.length === 0) floorWork = [0];
        return true;
      }
      if (flag === '--floor-work') {
        const list = value()
          .split(',')
          .map((v) => Number(v.trim()));
        if (list.length === 0 || list.some((w) => !Number.isInteger(w) || w < 0 || w > 100_000))
          usageError(BENCH, USAGE, '--floor-work: microseconds 0-100000, comma-separated');
        floorWork = [...new Set(list)].sort((a, b) => a - b);
        return true;
      }
      if (flag === '--trunkline-cmd') {
        const c = value().trim();
        if (c === '') usageError(BENCH, USAGE, '--trunkline-cmd: a command');
        trunklineCmd = c;
        return true;
      }
      return false;
    },
  });
  if (floorWork.length > 0 && transport !== 'udp')
    usageError(BENCH, USAGE, '--floor, --floor-work: the relay is UDP only');
  return { ...common, transport, trunklineCmd, floorWork };
}

// ---------------------------------------------------------------- results

interface StepResult {
  rate: number;
  /** Calls the step asked for: rate * seconds. */
  calls: number;
  /** Calls the UAC started. */
  created: number;
  ok: number;
  /** calls - ok: failed, unfinished at the deadline, or never started. */
  failed: number;
  failedCalls: number;
  unfinished: number;
  notStarted: number;
  /** UAC + UAS retransmissions. */
  retrans: number;
  uacRetrans: number;
  uasRetrans: number;
  /** What the UAS saw in this step (through the proxy). */
  uas: { invites: number; acks: number; byes: number; failedCalls: number; idleAfter: boolean };
  /** Proxy CPU from just before the UAC started until the UAS had no open call. */
  cpuMs: number;
  /** cpuMs / created; null when no call was started. */
  cpuMsPerCall: number | null;
  /** Proxy CPU from just before the UAC started until it exited (the drain after it not counted). */
  cpuMsAtUacExit: number;
  /** Processes summed in the CPU sample (Kamailio's tree, or 1 for Node.js). */
  processes: number;
  uacWallSeconds: number;
  uacKilled: boolean;
  uacExitCode: number | null;
  failureKinds: Record<string, number>;
  clean: boolean;
  /** Why not clean, in words. */
  faults: string[];
}

interface ServerRun {
  name: ServerName;
  /** The relay's busy work a datagram (us); 0 for the other servers. */
  workUs: number;
  label: string;
  describe: string;
  version: string;
  ports?: ServerPorts;
  optionsAnswer?: string;
  steps: StepResult[];
  /** The unreported warm-up step (JIT, first-touch allocations), when --warmup > 0. */
  warmup?: StepResult;
  /** CPU ms per second while idle (sampled once, after start). */
  idleCpuMsPerSecond?: number;
  /** How often the SIPp UAS ended mid-run (the server run was restarted at that step). */
  uasRestarts?: number;
  /** This run stopped because the SIPp UAS ended. */
  uasExited?: boolean;
  /** Set when the run stopped early (start failure, server died). */
  error?: string;
  dir?: string;
}

// ---------------------------------------------------------------- helpers

function log(opts: Options, line: string): void {
  progress(opts, line);
}

function delta(after: UasCounters, before: UasCounters): UasCounters {
  return {
    invites: after.invites - before.invites,
    acks: after.acks - before.acks,
    byes: after.byes - before.byes,
    retransmissions: after.retransmissions - before.retransmissions,
    failedCalls: after.failedCalls - before.failedCalls,
    currentCalls: after.currentCalls,
  };
}

// ---------------------------------------------------------------- one server

/**
 * One server through the given rates (a prefix of the ladder may be done
 * already). On a shared machine a SIPp UAS has been seen to end mid-run
 * (exit 0, as on SIGINT or a 'q' on its control port): then the whole
 * server run restarts once, fresh (new ports, warm-up), at the step that
 * was cut, so no debris of the cut step (the proxy's retransmissions to the
 * old UAS) falls into a measured step.
 */
async function benchServerWithRetry(
  name: ServerName,
  workUs: number,
  opts: Options,
  tools: { sipp: string; kamailio?: string },
  clkTck: number,
): Promise<ServerRun> {
  const run = await benchServer(name, workUs, opts, opts.rates, tools, clkTck);
  if (run.uasExited !== true) return run;
  const rest = opts.rates.slice(run.steps.length);
  log(opts, `${run.label}: WARNING ${run.error}: restarting ${run.label} and the UAS for ${rest.join(', ')} calls/s`);
  const again = await benchServer(name, workUs, opts, rest, tools, clkTck);
  return {
    ...again,
    steps: [...run.steps, ...again.steps],
    ...(run.warmup !== undefined ? { warmup: run.warmup } : {}),
    uasRestarts: 1 + (again.uasExited === true ? 1 : 0),
  };
}

async function benchServer(
  name: ServerName,
  workUs: number,
  opts: Options,
  rates: number[],
  tools: { sipp: string; kamailio?: string },
  clkTck: number,
): Promise<ServerRun> {
  const dir = mkdtempSync(join(tmpdir(), `trunkline-bench-proxy-${name}-`));
  const [proxy, uasPort, uacPort, api, uasControl, uacControl] = await distinctFreePorts(6);
  const ports: ServerPorts = { proxy: proxy!, uas: uasPort!, api: api! };
  const run: ServerRun = {
    name,
    workUs,
    label: name === 'kamailio' ? 'Kamailio' : name === 'relay' ? relayLabel(workUs) : 'Trunkline',
    describe: '',
    version:
      name === 'kamailio'
        ? firstLine(tools.kamailio!, ['-v'], /^version:/).replace(/^version:\s*/, '')
        : `node ${process.version}`,
    ports,
    steps: [],
    ...(opts.keep ? { dir } : {}),
  };
  let server: ProxyUnderTest | undefined;
  let uas: Uas | undefined;
  try {
    server =
      name === 'kamailio'
        ? startKamailio({
            kamailio: tools.kamailio!,
            template: KAMAILIO_TEMPLATE,
            dir,
            ports,
            workers: opts.kamailioWorkers,
          })
        : name === 'relay'
          ? startNodeRelay({ dir, ports, cwd: ROOT, workUs })
          : startTrunkline({ cmd: opts.trunklineCmd, dir, ports, transport: opts.transport, cwd: ROOT });
    run.describe = server.describe;
    log(opts, `${run.label}: starting on udp+tcp 127.0.0.1:${ports.proxy} (UAS ${ports.uas}, UAC ${uacPort})`);
    run.optionsAnswer = await waitForOptions(ports.proxy, server.child, 15_000);
    log(opts, `${run.label}: up (OPTIONS answered: ${run.optionsAnswer})`);

    uas = Uas.start({
      sipp: tools.sipp,
      scenario: UAS_SCENARIO,
      dir,
      port: ports.uas,
      transport: opts.transport,
      recvTimeoutMs: UAS_RECV_TIMEOUT_MS,
      controlPort: uasControl!,
    });
    await waitForBind(ports.uas, opts.transport, uas.child, 10_000);
    let before: UasCounters = { invites: 0, acks: 0, byes: 0, retransmissions: 0, failedCalls: 0, currentCalls: 0 };

    const step = async (rate: number, seconds: number, tag: string): Promise<StepResult> => {
      if (server!.child.exited)
        throw new Error(`${run.label} exited (${server!.child.describeExit()}):\n${server!.child.logTail()}`);
      if (uas!.child.exited) throw new UasExited(uas!.child);
      const calls = Math.max(1, Math.round(rate * seconds));
      const cpu0 = treeCpuTicks(server!.child.pid);
      const uac = await runUac({
        sipp: tools.sipp,
        scenario: UAC_SCENARIO,
        dir,
        target: `127.0.0.1:${ports.proxy}`,
        localPort: uacPort!,
        transport: opts.transport,
        rate,
        calls,
        limit: uacCallLimit(rate),
        recvTimeoutMs: UAC_RECV_TIMEOUT_MS,
        deadlineMs: seconds * 1000 + DEADLINE_SLACK_MS,
        statsFile: join(dir, `uac-${tag}.csv`),
        controlPort: uacControl!,
      });
      const uacEnded = Date.now();
      const cpu1 = treeCpuTicks(server!.child.pid);
      const { counters, idle } = await uas!.waitIdle(uacEnded, IDLE_TIMEOUT_MS);
      const cpu2 = treeCpuTicks(server!.child.pid);
      const u = delta(counters, before);
      before = counters;

      // The step ends when the UAS has no open call: work a server defers past the
      // last response (transaction cleanup, GC) is counted; both idle at ~0 CPU.
      const cpuMs = cpuMsBetween(cpu0, cpu2, clkTck);
      const cpuMsAtUacExit = cpuMsBetween(cpu0, cpu1, clkTck);
      const ok = uac.successful;
      const retrans = uac.retransmissions + u.retransmissions;
      const faults: string[] = [];
      if (ok < calls) faults.push(`${calls - ok} of ${calls} calls not ok`);
      if (uac.retransmissions > 0) faults.push(`${uac.retransmissions} UAC retransmissions`);
      if (u.retransmissions > 0) faults.push(`${u.retransmissions} UAS retransmissions`);
      if (u.acks < ok) faults.push(`UAS got ${u.acks} ACKs for ${ok} calls`);
      if (u.failedCalls > 0) faults.push(`${u.failedCalls} UAS calls failed`);
      if (!idle)
        faults.push(`UAS still had ${counters.currentCalls} open calls ${IDLE_TIMEOUT_MS / 1000} s after the step`);
      if (cpu2.processes === 0) faults.push('server gone at the end of the step');
      const result: StepResult = {
        rate,
        calls,
        created: uac.created,
        ok,
        failed: calls - ok,
        failedCalls: uac.failedCalls,
        unfinished: uac.unfinished,
        notStarted: Math.max(0, calls - uac.created),
        retrans,
        uacRetrans: uac.retransmissions,
        uasRetrans: u.retransmissions,
        uas: { invites: u.invites, acks: u.acks, byes: u.byes, failedCalls: u.failedCalls, idleAfter: idle },
        cpuMs,
        cpuMsPerCall: uac.created > 0 ? cpuMs / uac.created : null,
        cpuMsAtUacExit,
        processes: cpu0.processes,
        uacWallSeconds: uac.wallSeconds,
        uacKilled: uac.killed,
        uacExitCode: uac.exitCode,
        failureKinds: uac.failureKinds,
        clean: faults.length === 0,
        faults,
      };
      const kinds = Object.entries(uac.failureKinds)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      log(
        opts,
        `${run.label} ${opts.transport} ${rate}/s${tag === 'warmup' ? ' (warm-up, not reported)' : ''}: ok ${ok}/${calls}, ` +
          `failed ${result.failed}${kinds ? ` (${kinds})` : ''}, retrans ${retrans}, ` +
          `CPU ${cpuMs.toFixed(0)} ms = ${fmtMs(result.cpuMsPerCall)} ms/call` +
          `${uac.killed ? ', UAC killed at the deadline' : ''}${result.clean ? '' : ` [not clean: ${faults.join('; ')}]`}`,
      );
      return result;
    };

    // What the server costs doing nothing (timers, polling), over a short idle window.
    const idle = await idleCpuMsPerSecond(server.child.pid, IDLE_SAMPLE_MS, clkTck);
    run.idleCpuMsPerSecond = idle.msPerSecond;
    log(opts, `${run.label}: idle CPU ${idle.msPerSecond.toFixed(1)} ms per second (${idle.processes} processes)`);

    if (opts.warmup > 0) run.warmup = await step(Math.min(...opts.rates), opts.warmup, 'warmup');
    for (const rate of rates) run.steps.push(await step(rate, opts.seconds, String(rate)));
  } catch (err) {
    run.error = err instanceof Error ? err.message : String(err);
    if (err instanceof UasExited) {
      run.uasExited = true;
      run.error = err.summary;
    } else {
      log(opts, `${run.label}: ERROR ${run.error}`);
    }
  } finally {
    await uas?.child.stop(2000, 'SIGINT');
    await server?.child.stop(5000);
    if (opts.keep) log(opts, `${run.label}: files kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
  return run;
}

// ---------------------------------------------------------------- report

const perCall = (s: StepResult): number | null => s.cpuMsPerCall;

function printTable(opts: Options, runs: ServerRun[]): void {
  const k = runs.find((r) => r.name === 'kamailio');
  const t = runs.find((r) => r.name === 'trunkline');
  const notes = [
    "ok/failed: calls of the step (rate x seconds) that succeeded / did not; retrans: UAC + UAS retransmissions; ms/call: the proxy's CPU",
    '(utime+stime of all its processes and threads) per call started; clean: all ok, no retransmission, every ACK reached the UAS.',
    ...idleNote(runs, opts.warmup, opts.rates),
  ];
  const relays = runs.filter((r) => r.name === 'relay');
  if (k !== undefined) {
    for (const relay of relays) {
      const ratios = opts.rates.map((rate) => {
        const x = ratio(
          k.steps.find((s) => s.rate === rate),
          relay.steps.find((s) => s.rate === rate),
          perCall,
        );
        return `${rate}/s ${x === null ? 'n/a' : x.toFixed(2)}`;
      });
      const what =
        relay.workUs === 0
          ? "no SIP work at all: Node's dgram and the kernel for the same datagrams"
          : `busy ${relay.workUs} us of CPU before relaying each datagram`;
      notes.push(`${relay.label} / Kamailio: ${ratios.join(', ')} (${what}).`);
    }
  }
  if (relays.length >= 2) notes.push(...workScaleNotes(opts.rates, relays, k, t));
  for (const r of runs) {
    if (r.uasRestarts)
      notes.push(
        `${r.label}: the SIPp UAS ended mid-run ${r.uasRestarts} time(s) (something outside the benchmark?); the server run was restarted at that step.`,
      );
  }
  process.stdout.write(
    formatTable({
      rates: opts.rates,
      runs,
      perUnit: perCall,
      rowHead: 'proto  calls/s',
      row: (rate) => `${opts.transport.padEnd(5)} ${String(rate).padStart(8)}`,
      unitHead: 'ms/call',
      notes,
      verdict: verdict(opts.rates, k, t, perCall, 'call'),
      holdsText:
        "TARGET HOLDS: Trunkline at or below Kamailio's CPU per call at every rate, and clean wherever Kamailio is clean.",
    }),
  );
}

/**
 * Trunkline's and 2x Kamailio's CPU per call read on the relay's work scale:
 * how many us of a proxy's own work a datagram each amounts to.
 */
function workScaleNotes(
  rates: number[],
  relays: ServerRun[],
  k: ServerRun | undefined,
  t: ServerRun | undefined,
): string[] {
  const at = (run: ServerRun | undefined, rate: number): number | null =>
    run?.steps.find((s) => s.rate === rate)?.cpuMsPerCall ?? null;
  const lines: string[] = [];
  for (const rate of rates) {
    const points: WorkPoint[] = [];
    for (const r of relays) {
      const ms = at(r, rate);
      if (ms !== null) points.push({ workUs: r.workUs, msPerCall: ms });
    }
    const parts: string[] = [];
    const tMs = at(t, rate);
    const kMs = at(k, rate);
    if (tMs !== null) parts.push(`Trunkline ${formatWork(workEquivalent(points, tMs))}`);
    if (kMs !== null) parts.push(`2x Kamailio ${formatWork(workEquivalent(points, 2 * kMs))}`);
    if (parts.length > 0) lines.push(`  ${rate}/s: ${parts.join(', ')}`);
  }
  if (lines.length === 0) return [];
  return [
    "On the relay's scale (CPU per call against us of busy work a datagram, linear between the relay runs):",
    ...lines,
  ];
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const { sipp, kamailio, servers, machine } = setUp(BENCH, USAGE, opts, opts.transport.toUpperCase());
  installCleanupHandlers((sig) => process.stderr.write(`\nbench/proxy: ${sig}: stopping the servers and SIPp\n`));

  const runs: ServerRun[] = [];
  const plan: Array<[ServerName, number]> = [
    ...servers.map((name): [ServerName, number] => [name, 0]),
    ...opts.floorWork.map((w): [ServerName, number] => ['relay', w]),
  ];
  for (const [name, workUs] of plan) {
    runs.push(
      await benchServerWithRetry(
        name,
        workUs,
        opts,
        { sipp, ...(kamailio !== undefined ? { kamailio } : {}) },
        machine.clockTicksPerSecond,
      ),
    );
  }
  for (const r of runs) log(opts, `${r.label}: ${r.version}: ${r.describe}`);

  const k = runs.find((r) => r.name === 'kamailio');
  const t = runs.find((r) => r.name === 'trunkline');
  if (opts.json) {
    const rows = opts.rates.map((rate) => ({
      rate,
      ratioTrunklineKamailio: ratio(
        k?.steps.find((s) => s.rate === rate),
        t?.steps.find((s) => s.rate === rate),
        perCall,
      ),
      ratioRelayKamailio: ratio(
        k?.steps.find((s) => s.rate === rate),
        runs.find((r) => r.name === 'relay' && r.workUs === 0)?.steps.find((s) => s.rate === rate),
        perCall,
      ),
    }));
    const json = {
      transport: opts.transport,
      seconds: opts.seconds,
      rates: opts.rates,
      machine,
      servers: Object.fromEntries(runs.map((r) => [r.workUs === 0 ? r.name : `${r.name}+${r.workUs}us`, r])),
      rows,
      target: verdict(opts.rates, k, t, perCall, 'call'),
    };
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  } else {
    printTable(opts, runs);
  }
  // The target's verdict does not set the exit code; a run that could not be completed does.
  process.exitCode = runs.some((r) => r.error !== undefined) ? 1 : 0;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/proxy: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
