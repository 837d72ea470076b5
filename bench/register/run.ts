/**
 * Registrar benchmark: REGISTER with digest authentication (MD5, the only
 * algorithm SIPp 3.6 computes) against Trunkline and against Kamailio 5.6
 * (the reference: registrar + usrloc + auth_db over db_sqlite, Debian
 * packages kamailio and kamailio-sqlite-modules, kamailio-registrar.cfg, one
 * worker, -x tlsf), on this machine, at the same ladder of rates, one server
 * after the other, loopback only.
 *
 * One registration is one SIPp "call" of reg-auth.xml: REGISTER, 401,
 * REGISTER with credentials, 200 (4 messages). One subscriber (SIPp cannot
 * take the digest username from an injection file), so every registration
 * refreshes the same binding: a database write per REGISTER on both sides.
 *
 * Per server: a temp dir; a SQLite database with the domain and the
 * subscriber (Kamailio: tables from /usr/share/kamailio/db_sqlite/
 * {standard,auth_db,usrloc}-create.sql made with the sqlite3 CLI, or with
 * better-sqlite3 when the CLI is missing, ha1 = md5(user:realm:password);
 * Trunkline: its own store API on a SQLite file, `registrar: {algorithms:
 * MD5}`); the server is started and must answer an OPTIONS; its idle CPU is
 * sampled for 3 s; a warm-up step at the lowest rate (not reported); then
 * for each rate SIPp sends rate * seconds registrations at that rate.
 *
 * CPU: utime+stime (+cutime+cstime) from /proc/PID/stat over the server's
 * process tree (bench/common/procstat.ts), sampled just before SIPp starts
 * and SETTLE_MS after it exits (deferred work counted). CPU ms per
 * registration = difference / registrations SIPp started.
 *
 * Target: Trunkline at or below Kamailio's CPU per
 * registration at every rate, and clean (all ok, no retransmission)
 * wherever Kamailio is clean. The verdict is printed; the exit code is 1
 * only when a run could not be completed.
 *
 * Usage: node dist/bench/register/run.js [options]   (see USAGE below)
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import Sqlite from 'better-sqlite3';
import { openStore } from '../../src/store/index.js';
import { Child, installCleanupHandlers } from '../common/children.js';
import { cpuMsBetween, idleCpuMsPerSecond, treeCpuTicks } from '../common/procstat.js';
import { runUac, sleep } from '../common/sipp.js';
import { requireModulePath, startKamailioFromTemplate } from '../common/kamailio.js';
import { waitForOptions } from '../common/readiness.js';
import {
  commonUsage,
  distinctFreePorts,
  firstLine,
  parseCommonArgs,
  progress,
  setUp,
  shellQuote,
  usageError,
  which,
  type CommonOptions,
  type ServerName,
} from '../common/cli.js';
import { fmtMs, formatTable, idleNote, ratio, verdict } from '../common/report.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HERE = join(ROOT, 'bench', 'register');
const SCENARIO = join(HERE, 'reg-auth.xml');
const KAMAILIO_TEMPLATE = join(HERE, 'kamailio-registrar.cfg');
const KAMAILIO_SQL_DIR = '/usr/share/kamailio/db_sqlite';
const TRUNKLINE_CLI = join(ROOT, 'dist/src/cli/main.js');

const DOMAIN = 'bench.test';
const USER = 'alice';
const PASSWORD = 'alice-bench-pw';

/** SIPp is killed this long after the step's nominal duration. */
const DEADLINE_SLACK_MS = 20_000;
/** A registration waiting this long for a response fails. */
const RECV_TIMEOUT_MS = 10_000;
const IDLE_SAMPLE_MS = 3000;
/** After SIPp exits, CPU is sampled this much later (deferred writes, GC). */
const SETTLE_MS = 1000;
const START_TIMEOUT_MS = 15_000;

const BENCH = 'bench/register';
const DEFAULTS: CommonOptions = {
  rates: [200, 500],
  seconds: 10,
  only: null,
  json: false,
  kamailioWorkers: 1,
  warmup: 2,
  keep: false,
};
const USAGE = [
  'usage: node dist/bench/register/run.js [options]',
  ...commonUsage('registrations', DEFAULTS),
  '  --node-args ARGS        extra node options for Trunkline, space-separated',
  '                          (e.g. "--cpu-prof --cpu-prof-dir=/tmp/regprof")',
].join('\n');

interface Options extends CommonOptions {
  /** Node options put before Trunkline's CLI script. */
  nodeArgs: string[];
}

function parseArgs(argv: string[]): Options {
  let nodeArgs: string[] = [];
  const common = parseCommonArgs(argv, {
    bench: BENCH,
    usage: USAGE,
    defaults: DEFAULTS,
    extra: (flag, value) => {
      if (flag !== '--node-args') return false;
      nodeArgs = value()
        .split(' ')
        .filter((a) => a !== '');
      return true;
    },
  });
  return { ...common, nodeArgs };
}

// ---------------------------------------------------------------- results

interface StepResult {
  rate: number;
  /** Registrations the step asked for: rate * seconds. */
  registrations: number;
  /** Registrations SIPp started. */
  created: number;
  ok: number;
  /** registrations - ok: failed, unfinished at the deadline, or never started. */
  failed: number;
  failedCalls: number;
  unfinished: number;
  retrans: number;
  cpuMs: number;
  /** cpuMs / created; null when none was started. */
  cpuMsPerRegistration: number | null;
  /** CPU from just before SIPp started until it exited (the settle time not counted). */
  cpuMsAtSippExit: number;
  processes: number;
  sippWallSeconds: number;
  sippKilled: boolean;
  sippExitCode: number | null;
  failureKinds: Record<string, number>;
  clean: boolean;
  faults: string[];
}

interface ServerRun {
  name: ServerName;
  label: string;
  describe: string;
  version: string;
  port?: number;
  optionsAnswer?: string;
  idleCpuMsPerSecond?: number;
  warmup?: StepResult;
  steps: StepResult[];
  error?: string;
  dir?: string;
}

// ---------------------------------------------------------------- helpers

function log(opts: Options, line: string): void {
  progress(opts, line);
}

function md5(s: string): string {
  return createHash('md5').update(s).digest('hex');
}

/**
 * SIPp as runUac (bench/common/sipp.ts) starts it, plus the registration's
 * own arguments: a wrapper script that execs sipp with them appended (so
 * the pid is SIPp's).
 */
function sippWrapper(dir: string, sipp: string): string {
  const extra = ['-s', USER, '-key', 'domain', DOMAIN, '-au', USER, '-ap', PASSWORD, '-auth_uri', DOMAIN];
  const file = join(dir, 'sipp-register.sh');
  writeFileSync(file, `#!/bin/sh\nexec ${shellQuote(sipp)} "$@" ${extra.map(shellQuote).join(' ')}\n`);
  chmodSync(file, 0o755);
  return file;
}

// ---------------------------------------------------------------- servers

/** Kamailio's SQLite database: the tables of its create scripts, and the subscriber with its HA1. */
function makeKamailioDb(file: string): string {
  const scripts = ['standard', 'auth_db', 'usrloc'].map((n) => join(KAMAILIO_SQL_DIR, `${n}-create.sql`));
  let how: string;
  const sqlite3 = which('sqlite3');
  if (sqlite3 !== undefined) {
    for (const s of scripts) {
      const r = spawnSync(sqlite3, [file], { input: readFileSync(s, 'utf8'), encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`sqlite3 ${file} < ${s} failed: ${r.stderr}`);
    }
    how = 'sqlite3 CLI';
  } else {
    const db = new Sqlite(file);
    try {
      for (const s of scripts) db.exec(readFileSync(s, 'utf8'));
    } finally {
      db.close();
    }
    how = 'better-sqlite3';
  }
  const db = new Sqlite(file);
  try {
    db.prepare('INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES (?, ?, ?, ?, ?)').run(
      USER,
      DOMAIN,
      '',
      md5(`${USER}:${DOMAIN}:${PASSWORD}`),
      md5(`${USER}@${DOMAIN}:${DOMAIN}:${PASSWORD}`),
    );
  } finally {
    db.close();
  }
  return how;
}

interface Started {
  child: Child;
  describe: string;
}

function startKamailioRegistrar(kamailio: string, dir: string, port: number, workers: number): Started {
  const dbFile = join(dir, 'kamailio-reg.db');
  const how = makeKamailioDb(dbFile);
  const { child, args } = startKamailioFromTemplate({
    kamailio,
    template: KAMAILIO_TEMPLATE,
    dir,
    values: {
      BENCH_DBURL: `sqlite://${dbFile}`,
      BENCH_LISTEN: `udp:127.0.0.1:${port}`,
      BENCH_WORKERS: String(workers),
    },
  });
  return {
    child,
    describe: `kamailio ${args.join(' ')} (children=${workers}; registrar+usrloc db_mode 1+auth_db over db_sqlite; db made with ${how})`,
  };
}

async function startTrunklineRegistrar(
  dir: string,
  port: number,
  apiPort: number,
  nodeArgs: string[],
): Promise<Started> {
  const dbFile = join(dir, 'trunkline.db');
  const store = await openStore({ kind: 'sqlite', file: dbFile }, { env: {} });
  try {
    await store.domains.add(DOMAIN);
    await store.subscribers.add(USER, DOMAIN, PASSWORD);
  } finally {
    await store.close();
  }
  const yaml = [
    '# Written by bench/register/run.ts: a registrar with one domain and one subscriber; loopback only.',
    'listen:',
    `  - udp:127.0.0.1:${port}`,
    `data: ${JSON.stringify(join(dir, 'trunkline-data'))}`,
    `database: ${JSON.stringify(`sqlite:${dbFile}`)}`,
    'registrar: {algorithms: MD5}',
    'api:',
    `  listen: 127.0.0.1:${apiPort}`,
    'log:',
    '  level: warn',
    '',
  ].join('\n');
  const file = join(dir, 'trunkline.yaml');
  writeFileSync(file, yaml);
  const args = [...nodeArgs, TRUNKLINE_CLI, 'serve', '--config', file];
  const child = new Child('trunkline', process.execPath, args, join(dir, 'trunkline.log'), ROOT);
  return { child, describe: `node ${args.map(shellQuote).join(' ')} (SQLite store, registrar MD5)` };
}

// ---------------------------------------------------------------- one server

async function benchServer(
  name: ServerName,
  opts: Options,
  tools: { sipp: string; kamailio?: string },
  clkTck: number,
): Promise<ServerRun> {
  const label = name === 'kamailio' ? 'Kamailio' : 'Trunkline';
  const version =
    name === 'kamailio'
      ? firstLine(tools.kamailio!, ['-v'], /^version:/)
      : `trunkline ${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version} on node ${process.version}`;
  const run: ServerRun = { name, label, describe: '', version, steps: [] };
  const dir = mkdtempSync(join(tmpdir(), `bench-register-${name}-`));
  run.dir = dir;
  let server: Started | undefined;
  try {
    const [port, apiPort, sippPort, controlPort] = await distinctFreePorts(4);
    run.port = port!;
    server =
      name === 'kamailio'
        ? startKamailioRegistrar(tools.kamailio!, dir, port!, opts.kamailioWorkers)
        : await startTrunklineRegistrar(dir, port!, apiPort!, opts.nodeArgs);
    run.describe = server.describe;
    run.optionsAnswer = await waitForOptions(port!, server.child, START_TIMEOUT_MS);
    log(opts, `${label}: up on udp:127.0.0.1:${port} (OPTIONS: ${run.optionsAnswer})`);
    const sipp = sippWrapper(dir, tools.sipp);
    const srv = server;

    const step = async (rate: number, seconds: number, tag: string): Promise<StepResult> => {
      if (srv.child.exited) throw new Error(`${label} exited (${srv.child.describeExit()}):\n${srv.child.logTail()}`);
      const registrations = Math.max(1, Math.round(rate * seconds));
      const cpu0 = treeCpuTicks(srv.child.pid);
      const uac = await runUac({
        sipp,
        scenario: SCENARIO,
        dir,
        target: `127.0.0.1:${port}`,
        localPort: sippPort!,
        transport: 'udp',
        rate,
        calls: registrations,
        limit: Math.max(200, rate * 4),
        recvTimeoutMs: RECV_TIMEOUT_MS,
        deadlineMs: seconds * 1000 + DEADLINE_SLACK_MS,
        statsFile: join(dir, `stats-${tag}.csv`),
        controlPort: controlPort!,
      });
      const cpu1 = treeCpuTicks(srv.child.pid);
      await sleep(SETTLE_MS);
      const cpu2 = treeCpuTicks(srv.child.pid);
      const cpuMs = cpuMsBetween(cpu0, cpu2, clkTck);
      const ok = uac.successful;
      const faults: string[] = [];
      if (ok < registrations) faults.push(`${registrations - ok} of ${registrations} registrations not ok`);
      if (uac.retransmissions > 0) faults.push(`${uac.retransmissions} retransmissions`);
      if (cpu2.processes === 0) faults.push('server gone at the end of the step');
      const r: StepResult = {
        rate,
        registrations,
        created: uac.created,
        ok,
        failed: registrations - ok,
        failedCalls: uac.failedCalls,
        unfinished: uac.unfinished,
        retrans: uac.retransmissions,
        cpuMs,
        cpuMsPerRegistration: uac.created > 0 ? cpuMs / uac.created : null,
        cpuMsAtSippExit: cpuMsBetween(cpu0, cpu1, clkTck),
        processes: cpu0.processes,
        sippWallSeconds: uac.wallSeconds,
        sippKilled: uac.killed,
        sippExitCode: uac.exitCode,
        failureKinds: uac.failureKinds,
        clean: faults.length === 0,
        faults,
      };
      const kinds = Object.entries(uac.failureKinds)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      log(
        opts,
        `${label} ${rate}/s${tag === 'warmup' ? ' (warm-up, not reported)' : ''}: ok ${ok}/${registrations}, failed ${r.failed}${kinds ? ` (${kinds})` : ''}, ` +
          `retrans ${r.retrans}, CPU ${cpuMs.toFixed(0)} ms = ${fmtMs(r.cpuMsPerRegistration)} ms/registration` +
          `${uac.killed ? ', SIPp killed at the deadline' : ''}${r.clean ? '' : ` [not clean: ${faults.join('; ')}]`}`,
      );
      return r;
    };

    const idle = await idleCpuMsPerSecond(srv.child.pid, IDLE_SAMPLE_MS, clkTck);
    run.idleCpuMsPerSecond = idle.msPerSecond;
    log(opts, `${label}: idle CPU ${idle.msPerSecond.toFixed(1)} ms per second (${idle.processes} processes)`);

    if (opts.warmup > 0) run.warmup = await step(Math.min(...opts.rates), opts.warmup, 'warmup');
    for (const rate of opts.rates) run.steps.push(await step(rate, opts.seconds, String(rate)));
  } catch (err) {
    run.error = err instanceof Error ? err.message : String(err);
    log(opts, `${label}: ERROR ${run.error}`);
  } finally {
    await server?.child.stop(5000);
    if (opts.keep) log(opts, `${label}: files kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
  return run;
}

// ---------------------------------------------------------------- report

const perRegistration = (s: StepResult): number | null => s.cpuMsPerRegistration;

function printTable(opts: Options, runs: ServerRun[]): void {
  const k = runs.find((r) => r.name === 'kamailio');
  const t = runs.find((r) => r.name === 'trunkline');
  process.stdout.write(
    formatTable({
      rates: opts.rates,
      runs,
      perUnit: perRegistration,
      rowHead: '  reg/s',
      row: (rate) => String(rate),
      unitHead: 'ms/reg',
      notes: [
        'ok/failed: registrations of the step (rate x seconds) that got their 200 / did not; retrans: SIPp retransmissions;',
        "ms/reg: the server's CPU (utime+stime of all its processes and threads) per registration started (REGISTER, 401,",
        `REGISTER, 200), sampled ${SETTLE_MS} ms after SIPp exited; T/K: Trunkline / Kamailio; clean: all ok, no retransmission.`,
        ...idleNote(runs, opts.warmup, opts.rates),
      ],
      verdict: verdict(opts.rates, k, t, perRegistration, 'registration'),
      holdsText:
        "TARGET HOLDS: Trunkline at or below Kamailio's CPU per registration at every rate, and clean wherever Kamailio is clean.",
    }),
  );
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const { sipp, kamailio, servers, machine } = setUp(BENCH, USAGE, opts, 'REGISTER with MD5 digest over UDP');
  if (kamailio !== undefined) {
    try {
      readFileSync(join(KAMAILIO_SQL_DIR, 'usrloc-create.sql'));
      readFileSync(join(requireModulePath(), 'db_sqlite.so'));
    } catch {
      usageError(
        BENCH,
        USAGE,
        `Kamailio's SQLite module or ${KAMAILIO_SQL_DIR} missing: install the Debian package kamailio-sqlite-modules, or use --only trunkline`,
      );
    }
  }
  installCleanupHandlers((sig) => process.stderr.write(`\nbench/register: ${sig}: stopping the servers and SIPp\n`));

  const runs: ServerRun[] = [];
  for (const name of servers)
    runs.push(
      await benchServer(
        name,
        opts,
        { sipp, ...(kamailio !== undefined ? { kamailio } : {}) },
        machine.clockTicksPerSecond,
      ),
    );
  for (const r of runs) log(opts, `${r.label}: ${r.version}: ${r.describe}`);

  const k = runs.find((r) => r.name === 'kamailio');
  const t = runs.find((r) => r.name === 'trunkline');
  if (opts.json) {
    const rows = opts.rates.map((rate) => ({
      rate,
      ratioTrunklineKamailio: ratio(
        k?.steps.find((s) => s.rate === rate),
        t?.steps.find((s) => s.rate === rate),
        perRegistration,
      ),
    }));
    const json = {
      transport: 'udp',
      seconds: opts.seconds,
      rates: opts.rates,
      machine,
      servers: Object.fromEntries(runs.map((r) => [r.name, r])),
      rows,
      target: verdict(opts.rates, k, t, perRegistration, 'registration'),
    };
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  } else {
    printTable(opts, runs);
  }
  process.exitCode = runs.some((r) => r.error !== undefined) ? 1 : 0;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/register: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
