/**
 * What the trunking commands (account, trunk, did, carrier, route, cdr)
 * share: option values checked before the store opens, each error naming
 * its option (`cpm: expected an integer from 1 to 1000000, got "x"`),
 * `show` printed as KEY VALUE lines, and the `set` commands (the CLI twin
 * of the API's PATCH, src/api/patch.ts).
 */
import type { Command } from 'commander';
import type { Store } from '../store/index.js';
import { withConfigOption } from './common.js';
import { CliError, orFail, withStore } from './store.js';
import { formatTable, printJson, type Cell } from './output.js';
import { MAX_LIMIT } from '../trunking/validate.js';

/** `--cpm N`, `--max-calls N`: an integer from 1 to 1,000,000; undefined when absent. */
export function intOption(value: string | undefined, field: string, max = MAX_LIMIT): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^[0-9]{1,9}$/.test(v)) {
    const n = Number(v);
    if (n >= 1 && n <= max) return n;
  }
  throw new CliError(`${field}: expected an integer from 1 to ${max}, got ${JSON.stringify(value)}`);
}

/** `A,B,C` as a list (spaces around items dropped); undefined when absent; an empty item is an error. */
export function listOption(value: string | undefined, field: string): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === ''))
    throw new CliError(`${field}: expected a comma-separated list, got ${JSON.stringify(value)}`);
  return items;
}

/** A list cell: items joined by commas, `-` when empty. */
export function listCell(items: readonly string[]): string {
  return items.join(',');
}

/**
 * A `show`: with --json the object; else one line per key (the JSON key,
 * padded), lists comma-separated, `-` for nothing.
 */
export function printShow(object: Record<string, unknown>, json: boolean | undefined): void {
  if (json === true) {
    printJson(object);
    return;
  }
  const rows: Cell[][] = Object.entries(object).map(([k, v]) => [
    k,
    Array.isArray(v)
      ? v.join(',')
      : v === null || v === undefined
        ? null
        : typeof v === 'object'
          ? JSON.stringify(v)
          : (v as Cell),
  ]);
  // formatTable's first line is its header; a show has none.
  process.stdout.write(`${formatTable(['key', 'value'], rows).split('\n').slice(1).join('\n')}\n`);
}

/** `none` or nothing: the option clears its field (null); else its value as `check` takes it. */
export function orNone<T>(value: string, check: (v: string) => T): T | null {
  const v = value.trim();
  return v === '' || v.toLowerCase() === 'none' ? null : check(value);
}

/** Options as commander takes them: flags and help. */
export type OptionSpecs = readonly (readonly [flags: string, help: string])[];

export function withOptions(cmd: Command, options: OptionSpecs): Command {
  for (const [flags, help] of options) cmd.option(flags, help);
  return cmd;
}

export interface SetSpec<O, B> {
  noun: string;
  /** The key argument: `<name>` and its help. */
  key: readonly [name: string, help: string];
  options: OptionSpecs;
  /** The options as a PATCH body, each checked and its error naming the option (before the store opens). */
  body(opts: O): B | Promise<B>;
  /** Applies the body; what `show` (or `--json`) prints of the object after the change. */
  apply(store: Store, key: string, body: B): Promise<Record<string, unknown>>;
}

/**
 * `NOUN set KEY [--option VALUE...] [--json]`: the fields given change, the
 * others stay (no option: the object as it is); the object after the
 * change is printed as `show` prints it. An unknown KEY or a bad value:
 * one line, exit 1.
 */
export function registerSet<O extends { json?: boolean }, B>(group: Command, spec: SetSpec<O, B>): void {
  const cmd = group
    .command('set')
    .description(
      `change a ${spec.noun}'s fields (the API's PATCH); an option given as none clears a field that can be empty`,
    )
    .argument(spec.key[0], spec.key[1]);
  withConfigOption(withOptions(cmd, spec.options).option('--json', 'print the JSON object')).action(
    async (key: string, opts: O, c: Command) => {
      const body = await orFail(() => spec.body(opts));
      await withStore(c, async (store) => printShow(await spec.apply(store, key, body), opts.json));
    },
  );
}
