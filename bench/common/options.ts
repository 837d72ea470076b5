/**
 * The command line of a bench that reads its options by name (bench/b2bua,
 * bench/idle, bench/capacity), from one table per bench: --help prints the
 * usage made from it, and an option not in it, or one left without its
 * value, stops the bench before anything starts (exit 2), so that a typo
 * never runs the defaults instead.
 */
import { usageError } from './cli.js';

export interface BenchOption {
  /** As typed: `--rates`. */
  name: string;
  /** What follows it in the usage (`LIST`, `N`); absent for a flag that stands alone. */
  value?: string;
  help: string;
}

/** The usage text of `script` (its path under dist/) with `options`. */
export function benchUsage(script: string, options: readonly BenchOption[]): string {
  const lines = options.map(
    (o) => `  ${`${o.name}${o.value === undefined ? '' : ` ${o.value}`}`.padEnd(16)}  ${o.help}`,
  );
  return [`usage: node ${script} [options]`, ...lines, `  ${'-h, --help'.padEnd(16)}  this text`].join('\n');
}

/** Checks `argv` (process.argv without node and the script) against `options`; --help prints the usage and exits. */
export function checkOptions(
  bench: string,
  script: string,
  options: readonly BenchOption[],
  argv: readonly string[],
): void {
  const usage = benchUsage(script, options);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      process.stdout.write(`${usage}\n`);
      process.exit(0);
    }
    const o = options.find((x) => x.name === a);
    if (o === undefined) usageError(bench, usage, `unknown option ${a}`);
    if (o.value === undefined) continue;
    if (argv[i + 1] === undefined) usageError(bench, usage, `${a} needs a value`);
    i++;
  }
}

/** The value after `--name` on the command line, or `dflt` without it (checkOptions has refused a missing value). */
export function optionValue(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}
