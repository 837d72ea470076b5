/**
 * What the SIPp benchmarks (bench/proxy, bench/register) share on the
 * command line and around it: the common options, tool lookup, progress
 * output, free ports, and the machine's state at the start.
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { freePort } from '../../test/helpers/ports.js';
import { clockTicksPerSecond, loadAverage } from './procstat.js';
import { findKamailio } from './kamailio.js';

/** 'relay': bench/proxy's Node.js floor (bench/proxy/node-relay.ts), run only with --floor. */
export type ServerName = 'kamailio' | 'trunkline' | 'relay';

export interface CommonOptions {
  rates: number[];
  seconds: number;
  /** Run one server only (no ratio, no verdict). */
  only: ServerName | null;
  json: boolean;
  kamailioWorkers: number;
  /** Seconds at the lowest rate before the ladder, not reported. */
  warmup: number;
  keep: boolean;
}

/** The usage lines of the common options; `unit` names what a rate counts ("calls", "registrations"). */
export function commonUsage(unit: string, d: CommonOptions): string[] {
  return [
    `  --rates LIST            ${unit} per second, comma-separated (default ${d.rates.join(',')})`,
    `  --seconds N             seconds per rate (default ${d.seconds}): rate * N ${unit} per step`,
    '  --only kamailio|trunkline  run one server only (no ratio, no target verdict)',
    '  --json                  print one JSON object instead of the table',
    `  --kamailio-workers N    Kamailio children= (default ${d.kamailioWorkers}, as in the reference figures)`,
    `  --warmup N              seconds at the lowest rate before the ladder, not reported (default ${d.warmup}; 0: none)`,
    '  --keep                  keep the temp dirs (configs, logs, SIPp CSVs) and print their paths',
    '  -h, --help              this text',
  ];
}

export function usageError(bench: string, usage: string, msg: string): never {
  process.stderr.write(`${bench}: ${msg}\n${usage}\n`);
  process.exit(2);
}

/**
 * Parses the common options; `extra(flag, value)` takes a bench's own
 * options and returns true when it knew the flag. --flag=value and
 * --flag value are both accepted.
 */
export function parseCommonArgs(
  argv: string[],
  o: { bench: string; usage: string; defaults: CommonOptions; extra?: (flag: string, value: () => string) => boolean },
): CommonOptions {
  const opts: CommonOptions = { ...o.defaults, rates: [...o.defaults.rates] };
  const fail = (msg: string): never => usageError(o.bench, o.usage, msg);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const flag = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const value = (): string => {
      if (a.startsWith('--') && eq > 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) fail(`${flag} needs a value`);
      return v!;
    };
    switch (flag) {
      case '--rates': {
        const rates = value()
          .split(',')
          .map((s) => Number(s.trim()));
        if (rates.length === 0 || rates.some((r) => !Number.isInteger(r) || r <= 0))
          fail('--rates: positive integers, comma-separated');
        opts.rates = rates;
        break;
      }
      case '--seconds': {
        const s = Number(value());
        if (!Number.isFinite(s) || s <= 0 || s > 3600) fail('--seconds: a number of seconds in (0, 3600]');
        opts.seconds = s;
        break;
      }
      case '--only': {
        const s = value().toLowerCase();
        if (s !== 'kamailio' && s !== 'trunkline') fail('--only: kamailio or trunkline');
        opts.only = s as ServerName;
        break;
      }
      case '--warmup': {
        const w = Number(value());
        if (!Number.isFinite(w) || w < 0 || w > 600) fail('--warmup: a number of seconds in [0, 600]');
        opts.warmup = w;
        break;
      }
      case '--kamailio-workers': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1 || n > 64) fail('--kamailio-workers: an integer 1-64');
        opts.kamailioWorkers = n;
        break;
      }
      case '--json':
        opts.json = true;
        break;
      case '--keep':
        opts.keep = true;
        break;
      case '-h':
      case '--help':
        process.stdout.write(`${o.usage}\n`);
        process.exit(0);
        break;
      default:
        if (o.extra === undefined || !o.extra(flag, value)) fail(`unknown argument ${a}`);
    }
  }
  return opts;
}

export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

export function which(cmd: string): string | undefined {
  const r = spawnSync('/bin/sh', ['-c', `command -v ${shellQuote(cmd)}`], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p !== '' ? p : undefined;
}

/** The first line of a command's output (or the first matching `match`), for version strings. */
export function firstLine(cmd: string, args: string[], match?: RegExp): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  const lines = `${r.stdout ?? ''}\n${r.stderr ?? ''}`
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return (match ? lines.find((l) => match.test(l)) : lines[0]) ?? '?';
}

export async function distinctFreePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < n) {
    const p = await freePort('127.0.0.1');
    if (!ports.includes(p)) ports.push(p);
  }
  return ports;
}

/** Progress lines: to stderr with --json (stdout keeps the JSON object alone), else to stdout. */
export function progress(opts: { json: boolean }, line: string): void {
  if (opts.json) process.stderr.write(`${line}\n`);
  else process.stdout.write(`${line}\n`);
}

/** Above this 1-minute load average the figures are noisy: warn. */
export const LOAD_WARN = 0.5;

export interface Machine {
  cpus: number;
  loadAverage: [number, number, number];
  loadWarning: boolean;
  clockTicksPerSecond: number;
  sipp: string;
}

/**
 * Finds SIPp (and Kamailio when it runs), prints the run's first lines
 * (what, which machine, its load), and returns the tools and the machine.
 */
export function setUp(
  bench: string,
  usage: string,
  opts: CommonOptions,
  what: string,
): { sipp: string; kamailio?: string; servers: ServerName[]; machine: Machine } {
  if (process.platform !== 'linux') usageError(bench, usage, 'needs Linux (/proc for CPU times)');
  const sipp = which('sipp');
  if (sipp === undefined)
    usageError(bench, usage, 'sipp not found: install the Debian package sip-tester (scripts/install-deps.sh)');
  const servers: ServerName[] = opts.only === null ? ['kamailio', 'trunkline'] : [opts.only];
  let kamailio: string | undefined;
  if (servers.includes('kamailio')) {
    kamailio = findKamailio();
    if (kamailio === undefined)
      usageError(
        bench,
        usage,
        'kamailio not found: install the Debian package kamailio (scripts/install-deps.sh), or use --only trunkline',
      );
  }
  const load = loadAverage();
  const sippVersion = firstLine(sipp!, ['-v'], /SIPp v/);
  const machine: Machine = {
    cpus: cpus().length,
    loadAverage: load,
    loadWarning: load[0] > LOAD_WARN,
    clockTicksPerSecond: clockTicksPerSecond(),
    sipp: sippVersion,
  };
  progress(
    opts,
    `${bench}: ${what}, rates ${opts.rates.join(', ')}/s, ${opts.seconds} s each; ${machine.cpus} CPUs; ${sippVersion}`,
  );
  progress(opts, `load average before the run: ${load.map((x) => x.toFixed(2)).join(' ')}`);
  if (machine.loadWarning) {
    progress(
      opts,
      `WARNING: 1-minute load average ${load[0].toFixed(2)} is above ${LOAD_WARN}: something else is using the CPU, figures will be noisy`,
    );
  }
  return { sipp: sipp!, ...(kamailio !== undefined ? { kamailio } : {}), servers, machine };
}
