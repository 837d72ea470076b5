/**
 * Parse benchmark: Trunkline's SIP parser/serializer beside the `sip` npm
 * package and SIP.js on one fixed corpus (bench/parse/corpus.ts), for two
 * operations:
 *
 *   parse+forward  what a stateful proxy does per message (lazy access of the
 *                  headers a proxy reads, Via/Max-Forwards/Route edits,
 *                  serialize to a Buffer)
 *   full parse     parse and read every header (parsed form for the headers
 *                  all three parse, text for the rest)
 *
 * Method: every implementation is first checked (untimed) to really forward
 * correctly: its output must re-parse with Trunkline's parser with the new
 * Via, Max-Forwards - 1 and the Route or Via popped. Then 3 rounds; in each
 * round every implementation runs in a fresh child process (so that JIT
 * feedback and heap state of one library cannot slow another), warms up, and
 * runs each operation over the corpus for a bounded time and count. The best
 * round counts. `--in-process` runs everything in this process instead.
 *
 * Usage: node dist/bench/parse/run.js [options]
 *   --seconds N     time per round per implementation per operation (default 1.2;
 *                   the whole run takes about 9 * (0.8 + 2 * N) seconds)
 *   --json          print one JSON object instead of the table
 *   --only NAMES    time only these implementations (comma-separated: trunkline,sip,sip.js)
 *   --op OP         time only one operation ("forward" or "full")
 *   --in-process    no child processes (for profiling: one --cpu-prof file)
 *
 * Profiling Trunkline alone:
 *   node --cpu-prof dist/bench/parse/run.js --in-process --only trunkline --op forward
 *
 * Target: Trunkline >= 3x the fastest peer on parse+forward.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CORPUS } from './corpus.js';
import { sink, type Implementation } from './common.js';
import { checkImplementation } from './check.js';
import { trunkline } from './trunkline.js';
import { sipPeer } from './peer-sip.js';
import { sipjsPeer } from './peer-sipjs.js';

const TARGET_RATIO = 3;
const ROUNDS = 3;
const WARMUP_SECONDS = 0.3;
/** Hard cap on messages per round, whatever the clock says. */
const MAX_MESSAGES_PER_ROUND = 20_000_000;
/** Corpus passes between clock reads. */
const PASSES_PER_BATCH = 4;

type OpName = 'parse+forward' | 'full parse';
const OPS: readonly OpName[] = ['parse+forward', 'full parse'];
const ALL: readonly Implementation[] = [trunkline, sipPeer, sipjsPeer];

const USAGE = [
  'usage: node dist/bench/parse/run.js [--seconds N] [--json] [--only NAME[,NAME]] [--op forward|full] [--in-process]',
  '  --seconds N   seconds per round per implementation per operation (default 1.2)',
  '  --json        print one JSON object instead of the table',
  '  --only NAMES  time only these implementations (trunkline, sip, sip.js)',
  '  --op OP       time only one operation (forward or full)',
  '  --in-process  time everything in this process (no child per implementation), e.g. under --cpu-prof',
].join('\n');

interface Options {
  seconds: number;
  json: boolean;
  /** Time only these implementations; all are still checked. */
  only: string[] | null;
  ops: OpName[];
  inProcess: boolean;
  /** Internal: this process is the child timing one implementation for one round. */
  child: string | null;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { seconds: 1.2, json: false, only: null, ops: [...OPS], inProcess: false, child: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') opts.json = true;
    else if (a === '--in-process') opts.inProcess = true;
    else if (a === '--child') opts.child = argv[++i] ?? '';
    else if (a === '--seconds' || a.startsWith('--seconds=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0 || n > 60) throw new Error(`--seconds wants a number in (0, 60], got ${v}`);
      opts.seconds = n;
    } else if (a === '--only') {
      opts.only = (argv[++i] ?? '').split(',').filter((x) => x.length > 0);
    } else if (a === '--op') {
      const want = argv[++i] ?? '';
      const op = OPS.find((o) => o === want || (want.length > 0 && o.includes(want)));
      if (op === undefined) throw new Error(`--op wants one of: ${OPS.join(', ')}`);
      opts.ops = [op];
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else {
      throw new Error(`unknown argument ${a}\n${USAGE}`);
    }
  }
  return opts;
}

const BUFS: readonly Buffer[] = CORPUS.map((c) => c.buf);

function opFn(impl: Implementation, op: OpName): (buf: Buffer) => void {
  if (op === 'parse+forward') {
    const forward = impl.forward;
    return (buf) => {
      sink.n = (sink.n + forward(buf).length) | 0;
    };
  }
  const fullParse = impl.fullParse;
  return (buf) => {
    sink.n = (sink.n + fullParse(buf)) | 0;
  };
}

/** Runs fn over the corpus repeatedly for about `seconds` (and at most a fixed count); returns messages per second. */
function timeRound(fn: (buf: Buffer) => void, seconds: number): number {
  const budget = BigInt(Math.round(seconds * 1e9));
  const n = BUFS.length;
  let messages = 0;
  const t0 = process.hrtime.bigint();
  let elapsed = 0n;
  do {
    for (let p = 0; p < PASSES_PER_BATCH; p++) for (let i = 0; i < n; i++) fn(BUFS[i]!);
    messages += PASSES_PER_BATCH * n;
    elapsed = process.hrtime.bigint() - t0;
  } while (elapsed < budget && messages < MAX_MESSAGES_PER_ROUND);
  return (messages * 1e9) / Number(elapsed);
}

type RoundResult = Partial<Record<OpName, number>>;

/** Warm-up, then one timed round of each operation, in this process. */
function runRound(impl: Implementation, ops: readonly OpName[], seconds: number, warm: boolean): RoundResult {
  if (warm) for (const op of ops) timeRound(opFn(impl, op), WARMUP_SECONDS);
  const out: RoundResult = {};
  for (const op of ops) out[op] = timeRound(opFn(impl, op), seconds);
  return out;
}

/** One round for one implementation in a fresh node process (same flags as this one). */
function runRoundInChild(impl: Implementation, ops: readonly OpName[], seconds: number): RoundResult {
  const script = fileURLToPath(import.meta.url);
  const args = [...process.execArgv, script, '--child', impl.name, '--seconds', String(seconds)];
  if (ops.length === 1) args.push('--op', ops[0]!);
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`child for ${impl.name} failed (status ${r.status}, signal ${r.signal})`);
  return JSON.parse(r.stdout) as RoundResult;
}

function childMain(opts: Options): void {
  const impl = ALL.find((i) => i.name === opts.child);
  if (impl === undefined) throw new Error(`unknown implementation ${opts.child}`);
  const result = runRound(impl, opts.ops, opts.seconds, true);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (sink.n === 0.5) process.stderr.write('\n'); // keeps the sink observable
}

interface Row {
  implementation: string;
  operation: OpName;
  /** Best round. */
  messagesPerSecond: number;
  microsPerMessage: number;
  /** Every round's rate. */
  rounds: number[];
  /** (best - worst) / best over the rounds: how noisy the machine was. */
  spread: number;
  /** Trunkline's rate divided by this row's (1 for Trunkline; NaN when Trunkline was not timed). */
  trunklineRatio: number;
}

const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
const pad = (s: string, w: number, right = false): string => (right ? s.padStart(w) : s.padEnd(w));

function main(): void {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.child !== null) {
    childMain(opts);
    return;
  }
  const log = (s: string): void => {
    if (!opts.json) process.stdout.write(`${s}\n`);
  };

  // 1. Correctness first: nobody is fast by doing nothing.
  let failed = false;
  for (const impl of ALL) {
    const problems = checkImplementation(impl);
    if (problems.length > 0) {
      failed = true;
      process.stderr.write(`${impl.name}: output check failed:\n  ${problems.join('\n  ')}\n`);
    }
  }
  if (failed) {
    process.exitCode = 1;
    return;
  }

  const only = opts.only;
  const impls = only === null ? [...ALL] : ALL.filter((i) => only.includes(i.name));
  if (impls.length === 0) throw new Error(`--only matched none of: ${ALL.map((i) => i.name).join(', ')}`);
  const ops = opts.ops;

  const totalBytes = BUFS.reduce((s, b) => s + b.length, 0);
  log(
    `Trunkline parse benchmark: node ${process.version}, corpus of ${CORPUS.length} messages ` +
      `(${CORPUS.map((c) => c.name).join(', ')}; ${totalBytes} bytes)`,
  );
  log(
    'forward output of every implementation checked: re-parses with Trunkline, new top Via, Max-Forwards - 1, Route/Via popped',
  );
  log(
    `${ROUNDS} rounds x ${opts.seconds} s per implementation per operation, ` +
      `${opts.inProcess ? 'all in one process' : 'each implementation in a fresh process per round'}; best round reported`,
  );

  // 2. Rounds, round-robin over implementations so machine noise spreads over everyone.
  const rates = new Map<string, number[]>();
  const key = (impl: Implementation, op: OpName): string => `${impl.name}\u0000${op}`;
  if (opts.inProcess) for (const impl of impls) runRound(impl, ops, WARMUP_SECONDS, true);
  for (let r = 0; r < ROUNDS; r++) {
    for (const impl of impls) {
      const result = opts.inProcess
        ? runRound(impl, ops, opts.seconds, false)
        : runRoundInChild(impl, ops, opts.seconds);
      for (const op of ops) {
        const list = rates.get(key(impl, op)) ?? [];
        list.push(result[op]!);
        rates.set(key(impl, op), list);
      }
    }
  }
  const best = (impl: Implementation, op: OpName): number => Math.max(...rates.get(key(impl, op))!);

  const withTrunkline = impls.includes(trunkline);
  const rows: Row[] = [];
  for (const op of ops) {
    const tl = withTrunkline ? best(trunkline, op) : NaN;
    for (const impl of impls) {
      const rounds = rates.get(key(impl, op))!;
      const rate = Math.max(...rounds);
      rows.push({
        implementation: impl.name,
        operation: op,
        messagesPerSecond: rate,
        microsPerMessage: 1e6 / rate,
        rounds,
        spread: (rate - Math.min(...rounds)) / rate,
        trunklineRatio: tl / rate,
      });
    }
  }

  const peers = impls.filter((i) => i !== trunkline);
  const allPeers = peers.length === ALL.length - 1;
  const summary =
    withTrunkline && peers.length > 0
      ? ops.map((op) => {
          const fastest = peers.reduce((a, b) => (best(a, op) >= best(b, op) ? a : b));
          return { operation: op, fastestPeer: fastest.name, ratio: best(trunkline, op) / best(fastest, op) };
        })
      : [];
  const fwd = summary.find((s) => s.operation === 'parse+forward');
  const targetMet = fwd === undefined || !allPeers ? null : fwd.ratio >= TARGET_RATIO;

  if (opts.json) {
    const json = {
      node: process.version,
      corpus: CORPUS.map((c) => ({ name: c.name, bytes: c.buf.length })),
      secondsPerRound: opts.seconds,
      rounds: ROUNDS,
      isolation: opts.inProcess ? 'in-process' : 'process per implementation per round',
      implementations: impls.map((i) => ({ name: i.name, notes: i.notes })),
      results: rows,
      summary,
      target: { operation: 'parse+forward', ratio: TARGET_RATIO, met: targetMet },
    };
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
    return;
  }

  log('');
  const header =
    `${pad('implementation', 15)}${pad('operation', 15)}${pad('messages/s', 12, true)}` +
    `${pad('µs/message', 12, true)}${pad('spread', 8, true)}${pad('trunkline ÷', 13, true)}`;
  log(header);
  log('-'.repeat(header.length));
  for (const op of ops) {
    for (const row of rows.filter((r) => r.operation === op)) {
      const ratio = Number.isNaN(row.trunklineRatio) ? '-' : `${row.trunklineRatio.toFixed(2)}x`;
      log(
        `${pad(row.implementation, 15)}${pad(row.operation, 15)}${pad(fmtInt(row.messagesPerSecond), 12, true)}` +
          `${pad(row.microsPerMessage.toFixed(2), 12, true)}${pad(`${(row.spread * 100).toFixed(0)}%`, 8, true)}` +
          `${pad(ratio, 13, true)}`,
      );
    }
  }
  log('(spread: (best - worst) / best over the rounds)');
  if (summary.length > 0) log('');
  for (const s of summary) {
    log(`${pad(s.operation, 15)} trunkline / fastest peer (${s.fastestPeer}): ${s.ratio.toFixed(2)}x`);
  }
  if (fwd !== undefined && targetMet !== null) {
    log('');
    log(
      `Target (trunkline >= ${TARGET_RATIO}x the fastest peer on parse+forward): ` +
        `${targetMet ? 'MET' : 'NOT MET'} (${fwd.ratio.toFixed(2)}x vs ${fwd.fastestPeer})`,
    );
  }
}

main();
