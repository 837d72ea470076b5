/**
 * The command line of a bench that reads its options by name (bench/b2bua,
 * bench/idle, bench/capacity): --help prints its usage, and an option it
 * does not know, or one left without its value, stops it before anything
 * starts (exit 2), so that a typo never runs the defaults instead.
 */
import { usageError } from './cli.js';

/**
 * Checks `argv` (process.argv without node and the script): `valued` are
 * the options followed by a value, `flags` those that stand alone.
 */
export function checkOptions(
  bench: string,
  usage: string,
  argv: readonly string[],
  valued: readonly string[],
  flags: readonly string[] = [],
): void {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      process.stdout.write(`${usage}\n`);
      process.exit(0);
    }
    if (flags.includes(a)) continue;
    if (!valued.includes(a)) usageError(bench, usage, `unknown option ${a}`);
    if (argv[i + 1] === undefined) usageError(bench, usage, `${a} needs a value`);
    i++;
  }
}
