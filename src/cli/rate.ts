/**
 * `trunkline rate import CARRIER FILE.csv [--replace]` / `list [CARRIER]
 * [--prefix P] [--limit N] [--json]` / `show CARRIER PREFIX|NUMBER [--at
 * ISO] [--json]` / `rm CARRIER [PREFIX]`: carriers' rate decks, which `lcr`
 * routes order carriers by and which price the CDRs of answered outbound
 * calls.
 *
 * The file is CSV with a header row (src/trunking/rate-csv.ts): `prefix`
 * and `rate` (price per minute) required, `increment` (60/60, 1/1, 30/6),
 * `fee` (per call) and `effective` (ISO date) optional. It is read as a
 * stream (`-` reads standard input); a bad line stops the import with its
 * line and column named, and nothing is imported. Without --replace the
 * rows are added to the carrier's deck (a row of the same prefix and
 * effective date replaced); with it the deck is swapped whole. Either way a
 * running server sees the new deck at once, whole (src/store/repos/rates.ts).
 */
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { withConfigOption } from './common.js';
import { isoTime, plural, printJson, printList, say } from './output.js';
import { rateJson } from '../store/json.js';
import { CliError, commandGroup, orFail, withStore } from './store.js';
import { intOption, printShow } from './trunking-common.js';
import { checkName, checkRatePrefix } from '../trunking/validate.js';
import { readRateCsv, type RateFileRead } from '../trunking/rate-csv.js';
import { formatIncrements, formatMicros } from '../trunking/money.js';
import { RATE_DEFAULT_LIMIT, RATE_MAX_LIMIT, type RateDeck } from '../store/repos/rate-types.js';

function deckJson(d: RateDeck): Record<string, unknown> {
  return { carrier: d.carrier, rows: d.rows, source: d.source, importedAt: isoTime(d.activatedAt) };
}

/** `--at ISO` as ms, now when absent. */
function atOption(value: string | undefined): number {
  if (value === undefined) return Date.now();
  const t = /^\d{4}-\d\d-\d\d(?:T\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d))?$/.test(value.trim())
    ? Date.parse(value.trim())
    : NaN;
  if (Number.isNaN(t))
    throw new CliError(`at: expected an ISO 8601 date or time like 2026-03-01, got ${JSON.stringify(value)}`);
  return t;
}

export function registerRate(program: Command): void {
  const group = commandGroup(
    program,
    'rate',
    "carriers' rate decks (prices per prefix) for lcr routes and CDR costs: import, list, show, rm",
  );

  registerImport(group);
  registerList(group);
  registerShow(group);
  registerRm(group);
}

/** `rate import CARRIER FILE.csv [--replace]`. */
function registerImport(group: Command): void {
  withConfigOption(
    group
      .command('import')
      .description(
        "import a carrier's rate deck from CSV (header: prefix,rate[,increment,fee,effective]); all or nothing",
      )
      .argument('<carrier>', 'the carrier the prices are of')
      .argument('<file>', 'the CSV file (- for standard input)')
      .option('--replace', "replace the carrier's whole deck (else the rows are added to it)"),
  ).action(async (carrier: string, file: string, opts: { replace?: boolean }, cmd: Command) => {
    const c = await orFail(() => checkName(carrier, 'carrier'));
    await withStore(cmd, async (store) => {
      const started = Date.now();
      const input = file === '-' ? process.stdin : createReadStream(file, { highWaterMark: 1 << 16 });
      const read: RateFileRead = { header: null, rows: 0 };
      const source = file === '-' ? 'stdin' : basename(file);
      let r;
      try {
        r = await store.rates.import(c, readRateCsv(input, read), { replace: opts.replace === true, source });
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR')
          throw new CliError(`${file}: cannot read it (${String(code)})`);
        // A bad line: say which file it is in.
        if (err instanceof Error && err.name === 'RateFileError') throw new CliError(`${file}: ${err.message}`);
        throw err;
      }
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const ignored = read.header?.ignored ?? [];
      say(
        `imported ${plural(r.imported, 'rate')} for carrier ${r.carrier} from ${source} in ${seconds} s` +
          ` (${r.replaced ? 'deck replaced' : 'added to its deck'}: ${plural(r.total, 'rate')} now)` +
          (ignored.length > 0 ? `; columns ignored: ${ignored.join(', ')}` : ''),
      );
    });
  });
}

/** `rate list [CARRIER]`. */
function registerList(group: Command): void {
  withConfigOption(
    group
      .command('list')
      .description(
        `without CARRIER: each carrier's deck (rows, source, when imported); with it: its rates by prefix (at most --limit, default ${RATE_DEFAULT_LIMIT})`,
      )
      .argument('[carrier]', 'the carrier whose rates to list')
      .option('--prefix <p>', 'only prefixes starting with this (44 lists +44, +441, ...)')
      .option('--limit <n>', `at most this many rates (1 to ${RATE_MAX_LIMIT})`)
      .option('--json', 'print a JSON array'),
  ).action(
    async (carrier: string | undefined, opts: { prefix?: string; limit?: string; json?: boolean }, cmd: Command) => {
      const f = await orFail(() => ({
        carrier: carrier === undefined ? undefined : checkName(carrier, 'carrier'),
        prefix: opts.prefix === undefined ? undefined : checkRatePrefix(opts.prefix, 'prefix'),
        limit: intOption(opts.limit, 'limit', RATE_MAX_LIMIT) ?? RATE_DEFAULT_LIMIT,
      }));
      await withStore(cmd, async (store) => {
        if (f.carrier === undefined && f.prefix === undefined) {
          printList(await store.rates.decks(), opts.json, deckJson, [
            ['carrier', (d) => d.carrier],
            ['rates', (d) => d.rows],
            ['source', (d) => d.source],
            ['imported', (d) => isoTime(d.activatedAt)],
          ]);
          return;
        }
        const rows = await store.rates.list({
          ...(f.carrier !== undefined && { carrier: f.carrier }),
          ...(f.prefix !== undefined && { prefix: f.prefix }),
          limit: f.limit,
        });
        printList(rows, opts.json, rateJson, [
          ['carrier', (r) => r.carrier],
          ['prefix', (r) => r.prefix],
          ['rate', (r) => formatMicros(r.rate)],
          ['increment', (r) => formatIncrements(r)],
          ['fee', (r) => formatMicros(r.fee)],
          ['effective', (r) => (r.effectiveAt === 0 ? null : isoTime(r.effectiveAt))],
        ]);
      });
    },
  );
}

/** `rate show CARRIER PREFIX`. */
function registerShow(group: Command): void {
  withConfigOption(
    group
      .command('show')
      .description(
        "a carrier's rate for a prefix or number: the longest prefix of it in the deck, its rows (newest first) and the one in force",
      )
      .argument('<carrier>', 'the carrier')
      .argument('<prefix>', 'a prefix or a whole number (44, +442071234567)')
      .option('--at <iso8601>', 'the one in force at this time (default now)')
      .option('--json', 'print a JSON object'),
  ).action(async (carrier: string, prefix: string, opts: { at?: string; json?: boolean }, cmd: Command) => {
    const a = await orFail(() => ({
      carrier: checkName(carrier, 'carrier'),
      prefix: checkRatePrefix(prefix, 'prefix'),
      at: atOption(opts.at),
    }));
    await withStore(cmd, async (store) => {
      const s = await store.rates.show(a.carrier, a.prefix, a.at);
      const inForce = s.inForce === null ? null : rateJson(s.inForce);
      if (opts.json === true) {
        printJson({ carrier: s.carrier, asked: s.asked, prefix: s.prefix, inForce, rows: s.rows.map(rateJson) });
        return;
      }
      const rowText = (r: (typeof s.rows)[number]): string =>
        `${formatMicros(r.rate)}/min, ${formatIncrements(r)}, fee ${formatMicros(r.fee)}, ` +
        (r.effectiveAt === 0 ? 'always' : `from ${isoTime(r.effectiveAt)}`);
      printShow(
        {
          carrier: s.carrier,
          prefix: s.prefix === s.asked ? s.prefix : `${s.prefix} (the longest prefix of ${s.asked} in the deck)`,
          'in force': s.inForce === null ? 'none yet (every row starts later)' : rowText(s.inForce),
          rows: s.rows.map(rowText).join('; '),
        },
        false,
      );
    });
  });
}

/** `rate rm CARRIER [PREFIX]`. */
function registerRm(group: Command): void {
  withConfigOption(
    group
      .command('rm')
      .description("remove a carrier's whole deck, or one prefix's rates")
      .argument('<carrier>', 'the carrier')
      .argument('[prefix]', 'only this prefix (all its effective dates)'),
  ).action(async (carrier: string, prefix: string | undefined, _opts: unknown, cmd: Command) => {
    const a = await orFail(() => ({
      carrier: checkName(carrier, 'carrier'),
      prefix: prefix === undefined ? undefined : checkRatePrefix(prefix, 'prefix'),
    }));
    await withStore(cmd, async (store) => {
      const n = await store.rates.rm(a.carrier, a.prefix);
      say(
        `removed ${plural(n, 'rate')} of carrier ${a.carrier}${a.prefix === undefined ? '' : ` for prefix ${a.prefix}`}`,
      );
    });
  });
}
