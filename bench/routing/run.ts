/**
 * bench/routing: least-cost route lookup, rate deck import and the memory
 * of the decks, Trunkline beside Kamailio's lcr module on the same decks.
 *
 *   node dist/bench/routing/run.js [--carriers 5] [--prefixes 200000]
 *     [--lookups 20000] [--only trunkline|kamailio] [--json] [--keep]
 *
 * The decks are generated (deck.ts, seeded: the same on every run), written
 * as the CSV carriers send for Trunkline (trunkline.ts: imported by the CLI,
 * looked up as a live call does) and as lcr tables for Kamailio
 * (kamailio.ts). Prints the load average first (a warning when the machine
 * is busy), then one table: each figure of both side by side and their
 * ratio, the lookups beside imports, and the target (p99 under 20 µs).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installCleanupHandlers } from '../common/children.js';
import { LOAD_WARN, distinctFreePorts, firstLine, progress, usageError } from '../common/cli.js';
import { findKamailio } from '../common/kamailio.js';
import { loadAverage } from '../common/procstat.js';
import { makeDecks, writeDeckCsv } from './deck.js';
import { type KamailioFigures, kamailioFigures } from './kamailio.js';
import { type TrunklineFigures, trunklineFigures } from './trunkline.js';
import { formatReport } from './report.js';

const BENCH = 'bench/routing';
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TEMPLATE = join(ROOT, 'bench', 'routing', 'kamailio-lcr.cfg');

const USAGE = `usage: node dist/bench/routing/run.js [options]
  --carriers N       carriers, each with its own deck (default 5)
  --prefixes N       rows (prefixes) per carrier's deck (default 200000)
  --lookups N        numbers looked up, each timed alone, after a warm-up pass over them (default 20000)
  --hash-size N      Kamailio lcr_rule_hash_size (default: the power of 2 at or above the distinct prefixes)
  --only trunkline|kamailio  run one side only (no ratio)
  --json             print one JSON object instead of the table
  --keep             keep the temp dir (CSV decks, SQLite files, Kamailio configs and logs)
  -h, --help         this text`;

export interface Options {
  carriers: number;
  prefixes: number;
  lookups: number;
  hashSize: number | null;
  only: 'trunkline' | 'kamailio' | null;
  json: boolean;
  keep: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    carriers: 5,
    prefixes: 200_000,
    lookups: 20_000,
    hashSize: null,
    only: null,
    json: false,
    keep: false,
  };
  const fail = (msg: string): never => usageError(BENCH, USAGE, msg);
  const int = (flag: string, v: string | undefined, lo: number, hi: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < lo || n > hi) fail(`${flag}: an integer ${lo}-${hi}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.startsWith('--') ? argv[i]!.split(/=(.*)/s, 2) : [argv[i]!, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--carriers':
        o.carriers = int(flag, value(), 1, 60);
        break;
      case '--prefixes':
        o.prefixes = int(flag, value(), 100, 5_000_000);
        break;
      case '--lookups':
        o.lookups = int(flag, value(), 1, 1_000_000);
        break;
      case '--hash-size':
        o.hashSize = int(flag, value(), 1, 1 << 24);
        break;
      case '--only': {
        const v = value();
        if (v !== 'trunkline' && v !== 'kamailio') fail('--only: trunkline or kamailio');
        o.only = v as 'trunkline' | 'kamailio';
        break;
      }
      case '--json':
        o.json = true;
        break;
      case '--keep':
        o.keep = true;
        break;
      case '-h':
      case '--help':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      default:
        fail(`unknown argument ${argv[i]}`);
    }
  }
  return o;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const kamailio = opts.only === 'trunkline' ? undefined : findKamailio();
  if (opts.only !== 'trunkline' && kamailio === undefined)
    usageError(
      BENCH,
      USAGE,
      'kamailio not found: install the Debian packages kamailio and kamailio-sqlite-modules, or use --only trunkline',
    );
  installCleanupHandlers((sig) => process.stderr.write(`\n${BENCH}: ${sig}: stopping\n`));
  const say = (line: string): void => progress(opts, line);
  const kVersion = kamailio === undefined ? null : firstLine(kamailio, ['-v'], /^version:/).replace(/^version:\s*/, '');
  const load = loadAverage();
  say(
    `${BENCH}: ${opts.carriers} carriers x ${opts.prefixes} prefixes, ${opts.lookups} numbers; ${cpus().length} CPUs; Node.js ${process.version}${kVersion === null ? '' : `; ${kVersion}`}`,
  );
  say(`load average before the run: ${load.map((x) => x.toFixed(2)).join(' ')}`);
  if (load[0] > LOAD_WARN)
    say(
      `WARNING: 1-minute load average ${load[0].toFixed(2)} is above ${LOAD_WARN}: something else is using the CPU, figures will be noisy`,
    );

  const dir = mkdtempSync(join(tmpdir(), 'bench-routing-'));
  try {
    const decks = makeDecks({ carriers: opts.carriers, perCarrier: opts.prefixes, lookups: opts.lookups });
    const csvOf = (c: string): string => join(dir, `${c}.csv`);
    for (const c of decks.carriers) await writeDeckCsv(csvOf(c), decks.rows.get(c)!);
    say(`decks written: ${decks.distinctPrefixes} distinct prefixes over the carriers`);
    let t: TrunklineFigures | undefined;
    let k: KamailioFigures | undefined;
    if (opts.only !== 'kamailio') t = await trunklineFigures({ dir, decks, csvOf, progress: say });
    if (kamailio !== undefined) {
      const ports = (await distinctFreePorts(2)) as [number, number];
      let hash = 1;
      while (hash < decks.distinctPrefixes) hash *= 2;
      k = await kamailioFigures({
        kamailio,
        version: kVersion ?? '?',
        dir,
        decks,
        ports,
        hashSize: opts.hashSize ?? hash,
        template: TEMPLATE,
        progress: say,
      });
    }
    const endLoad = loadAverage();
    const report = {
      opts,
      load,
      endLoad,
      cpus: cpus().length,
      distinctPrefixes: decks.distinctPrefixes,
      trunkline: t,
      kamailio: k,
    };
    if (opts.json)
      process.stdout.write(
        `${JSON.stringify(report, (key, v) => (key === 'found' || key === 'orders' ? undefined : v), 2)}\n`,
      );
    else process.stdout.write(formatReport(report));
  } finally {
    if (opts.keep) say(`kept: ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${BENCH}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
