/**
 * Idle benchmark: what a server costs with no traffic at all. A default
 * `trunkline serve` (SQLite store, built-in media relay in its worker
 * thread, API on) and Kamailio on bench/proxy/kamailio-proxy.cfg (one
 * worker, -x tlsf) start side by side, settle for --warmup seconds, then
 * are watched for --seconds:
 *
 *   - CPU ms per second, Trunkline per thread name (main, the media worker,
 *     V8's "node" platform threads, libuv's pool), Kamailio for its whole
 *     process tree;
 *   - wake-ups per second: voluntary context switches (a thread going to
 *     sleep, i.e. each time it was woken to do something), the count of a
 *     periodic timer's firings whatever they cost.
 *
 * --worker runs the relay on its worker thread (media.worker: true);
 * --baseline CLI starts a second Trunkline from another build (its
 * dist/src/cli/main.js) beside this one, for before/after in one run.
 *
 * Usage: node dist/bench/idle/run.js [--warmup 15] [--seconds 60] [--only trunkline|kamailio] [--worker]
 *        [--baseline OTHER/dist/src/cli/main.js] [--json]
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/helpers/ports.js';
import { checkOptions, optionValue, type BenchOption } from '../common/options.js';
import { Child, installCleanupHandlers, stopAll } from '../common/children.js';
import { findKamailio, startKamailioFromTemplate } from '../common/kamailio.js';
import { clockTicksPerSecond, loadAverage, processTree } from '../common/procstat.js';
import { waitForOptions } from '../common/readiness.js';
import { sleep } from '../common/sipp.js';
import { CLI } from '../common/trunk-call.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const KAMAILIO_TEMPLATE = join(ROOT, 'bench', 'proxy', 'kamailio-proxy.cfg');

/** CPU ticks and voluntary context switches of one thread group (by name). */
interface ThreadFigures {
  ticks: number;
  wakeups: number;
}

const OPTIONS: BenchOption[] = [
  { name: '--warmup', value: 'N', help: 'seconds to settle before measuring (default 15)' },
  { name: '--seconds', value: 'N', help: 'seconds measured (default 60)' },
  { name: '--only', value: 'trunkline|kamailio', help: 'one server only' },
  { name: '--worker', help: 'the media relay on its worker thread (media.worker: true)' },
  {
    name: '--baseline',
    value: 'CLI',
    help: 'a second Trunkline from another build (its dist/src/cli/main.js) beside this one',
  },
  { name: '--json', help: 'print one JSON object instead of the table' },
];

/** Per thread name ("main" for a process's first thread), utime+stime and voluntary switches. */
function threadFigures(pids: number[]): Map<string, ThreadFigures> {
  const out = new Map<string, ThreadFigures>();
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      let stat: string;
      let status: string;
      try {
        stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
        status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'latin1');
      } catch {
        continue;
      }
      const close = stat.lastIndexOf(')');
      const name = Number(tid) === pid ? 'main' : stat.slice(stat.indexOf('(') + 1, close);
      const f = stat.slice(close + 2).split(' ');
      const ticks = Number(f[11] ?? 0) + Number(f[12] ?? 0);
      const wakeups = Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
      const prev = out.get(name) ?? { ticks: 0, wakeups: 0 };
      out.set(name, { ticks: prev.ticks + ticks, wakeups: prev.wakeups + wakeups });
    }
  }
  return out;
}

async function startTrunkline(dir: string, cli: string, worker: boolean): Promise<{ child: Child; port: number }> {
  const port = await freePort();
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'trunkline.yaml');
  // The defaults otherwise: SQLite store, built-in media relay (in the main thread unless --worker), default port range.
  writeFileSync(
    config,
    [
      `data: ${JSON.stringify(join(dir, 'data'))}`,
      `listen: [udp:127.0.0.1:${port}]`,
      `api: {listen: 127.0.0.1:${await freePort()}}`,
      ...(worker ? ['media: {worker: true}'] : []),
      '',
    ].join('\n'),
  );
  const child = new Child(
    'trunkline',
    process.execPath,
    [cli, 'serve', '--config', config],
    join(dir, 'trunkline.log'),
    dir,
  );
  await waitForOptions(port, child, 20_000);
  return { child, port };
}

async function startKamailio(kamailio: string, dir: string): Promise<Child> {
  const port = await freePort();
  const { child } = startKamailioFromTemplate({
    kamailio,
    template: KAMAILIO_TEMPLATE,
    dir,
    values: {
      BENCH_UAS: `sip:127.0.0.1:${await freePort()}`,
      BENCH_LISTEN_UDP: `udp:127.0.0.1:${port}`,
      BENCH_LISTEN_TCP: `tcp:127.0.0.1:${port}`,
      BENCH_WORKERS: '1',
    },
  });
  await waitForOptions(port, child, 20_000);
  return child;
}

interface Row {
  server: string;
  thread: string;
  cpuMsPerSecond: number;
  wakeupsPerSecond: number;
}

function rows(
  server: string,
  a: Map<string, ThreadFigures>,
  b: Map<string, ThreadFigures>,
  secs: number,
  hz: number,
): Row[] {
  const out: Row[] = [];
  let cpu = 0;
  let wake = 0;
  for (const [thread, fb] of [...b].sort(([x], [y]) => (x === 'main' ? -1 : y === 'main' ? 1 : x.localeCompare(y)))) {
    const fa = a.get(thread) ?? { ticks: 0, wakeups: 0 };
    const r = {
      server,
      thread,
      cpuMsPerSecond: ((fb.ticks - fa.ticks) * 1000) / hz / secs,
      wakeupsPerSecond: (fb.wakeups - fa.wakeups) / secs,
    };
    cpu += r.cpuMsPerSecond;
    wake += r.wakeupsPerSecond;
    out.push(r);
  }
  out.push({ server, thread: 'all', cpuMsPerSecond: cpu, wakeupsPerSecond: wake });
  return out;
}

async function main(): Promise<void> {
  checkOptions('idle bench', 'dist/bench/idle/run.js', OPTIONS, process.argv.slice(2));
  installCleanupHandlers();
  const warmup = Number(optionValue('warmup', '15'));
  const seconds = Number(optionValue('seconds', '60'));
  const only = optionValue('only', '');
  const json = process.argv.includes('--json');
  const hz = clockTicksPerSecond();
  const dir = mkdtempSync(join(tmpdir(), 'trunkline-bench-idle-'));
  const load = loadAverage();
  const say = (l: string): void => void (json ? process.stderr : process.stdout).write(`${l}\n`);
  say(
    `bench/idle: no traffic, ${warmup} s warm-up, ${seconds} s measured; load ${load.map((x) => x.toFixed(2)).join(' ')}`,
  );
  const servers: Array<{ name: string; child: Child }> = [];
  try {
    const worker = process.argv.includes('--worker');
    const baseline = optionValue('baseline', '');
    if (only !== 'kamailio') {
      servers.push({ name: 'trunkline', child: (await startTrunkline(join(dir, 'this'), CLI, worker)).child });
      if (baseline !== '')
        servers.push({ name: 'baseline', child: (await startTrunkline(join(dir, 'base'), baseline, worker)).child });
    }
    const kamailio = only === 'trunkline' ? undefined : findKamailio();
    if (kamailio !== undefined) {
      servers.push({ name: 'kamailio', child: await startKamailio(kamailio, dir) });
    } else if (only !== 'trunkline') say('kamailio not found: Trunkline alone');
    await sleep(warmup * 1000);
    const pidsOf = (c: Child): number[] => processTree(c.pid).map((p) => p.pid);
    const before = servers.map((s) => threadFigures(pidsOf(s.child)));
    await sleep(seconds * 1000);
    const after = servers.map((s) => threadFigures(pidsOf(s.child)));
    for (const s of servers)
      if (s.child.exited) throw new Error(`${s.name} exited during the run:\n${s.child.logTail()}`);
    const table = servers.flatMap((s, i) =>
      // Kamailio's many processes are summed: one line per server.
      s.name === 'kamailio'
        ? rows(s.name, before[i]!, after[i]!, seconds, hz).slice(-1)
        : rows(s.name, before[i]!, after[i]!, seconds, hz),
    );
    if (json) {
      process.stdout.write(
        `${JSON.stringify({ warmup, seconds, load, clockTicksPerSecond: hz, rows: table }, null, 2)}\n`,
      );
    } else {
      say('server     thread            CPU ms/s  wake-ups/s');
      for (const r of table)
        say(
          `${r.server.padEnd(10)} ${r.thread.padEnd(16)} ${r.cpuMsPerSecond.toFixed(2).padStart(9)} ${r.wakeupsPerSecond.toFixed(1).padStart(11)}`,
        );
      say(`(CPU from /proc utime+stime at ${hz} ticks/s: ${(1000 / hz / seconds).toFixed(2)} ms/s resolution)`);
    }
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/idle: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
