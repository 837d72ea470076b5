/**
 * `trunkline price import ACCOUNT FILE.csv [--replace]` / `list ACCOUNT
 * [--json]` / `rm ACCOUNT [PREFIX]`: what accounts pay (sell prices,
 * src/store/repos/prices.ts). The file is a rate deck's CSV
 * (src/trunking/rate-csv.ts: prefix, rate per minute, increment, fee,
 * effective); all or nothing. A call whose cheapest carrier costs more per
 * minute than the account's price for the number is refused 403 Not
 * profitable unless the account may sell below cost (`account set NAME
 * --sell-below-cost yes`); an answered call's CDR has its `price`.
 */
import { createReadStream } from 'node:fs';
import type { Command } from 'commander';
import { withConfigOption } from './common.js';
import { isoTime, plural, printList, say } from './output.js';
import { CliError, commandGroup, orFail, withStore } from './store.js';
import { checkName, checkRatePrefix } from '../trunking/validate.js';
import { readRateCsv } from '../trunking/rate-csv.js';
import { formatIncrements, formatMicros } from '../trunking/money.js';
import type { RateRow } from '../trunking/rate-csv.js';

function priceJson(account: string, r: RateRow): Record<string, unknown> {
  return {
    account,
    prefix: r.prefix,
    rate: formatMicros(r.rate),
    increment: formatIncrements(r),
    fee: formatMicros(r.fee),
    effective: r.effectiveAt === 0 ? null : isoTime(r.effectiveAt),
  };
}

export function registerPrice(program: Command): void {
  const group = commandGroup(program, 'price', 'what accounts pay per prefix (sell prices): import, list, rm');
  withConfigOption(
    group
      .command('import')
      .description(
        "import an account's prices from CSV (header: prefix,rate[,increment,fee,effective]); all or nothing",
      )
      .argument('<account>', 'the account that pays them')
      .argument('<file>', 'the CSV file (- for standard input)')
      .option('--replace', "replace the account's prices (else the rows are added to them)"),
  ).action(async (account: string, file: string, opts: { replace?: boolean }, cmd: Command) => {
    const a = await orFail(() => checkName(account, 'account'));
    await withStore(cmd, async (store) => {
      const input = file === '-' ? process.stdin : createReadStream(file);
      let r;
      try {
        r = await store.prices.import(a, readRateCsv(input), { replace: opts.replace === true });
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR')
          throw new CliError(`${file}: cannot read it (${String(code)})`);
        if (err instanceof Error && err.name === 'RateFileError') throw new CliError(`${file}: ${err.message}`);
        throw err;
      }
      say(
        `imported ${plural(r.imported, 'price')} for account ${r.account}` +
          ` (${r.replaced ? 'replaced' : 'added'}: ${plural(r.total, 'price')} now)`,
      );
    });
  });
  withConfigOption(
    group
      .command('list')
      .description("an account's prices by prefix")
      .argument('<account>', 'the account')
      .option('--json', 'print a JSON array'),
  ).action(async (account: string, opts: { json?: boolean }, cmd: Command) => {
    const a = await orFail(() => checkName(account, 'account'));
    await withStore(cmd, async (store) => {
      printList(await store.prices.list(a), opts.json, (r) => priceJson(a, r), [
        ['prefix', (r) => r.prefix],
        ['rate', (r) => formatMicros(r.rate)],
        ['increment', (r) => formatIncrements(r)],
        ['fee', (r) => formatMicros(r.fee)],
        ['effective', (r) => (r.effectiveAt === 0 ? null : isoTime(r.effectiveAt))],
      ]);
    });
  });
  withConfigOption(
    group
      .command('rm')
      .description("remove an account's prices (of one prefix)")
      .argument('<account>', 'the account')
      .argument('[prefix]', 'only this prefix'),
  ).action(async (account: string, prefix: string | undefined, _opts: unknown, cmd: Command) => {
    const [a, p] = await orFail(() => [
      checkName(account, 'account'),
      prefix === undefined ? undefined : checkRatePrefix(prefix, 'prefix'),
    ]);
    await withStore(cmd, async (store) =>
      say(`removed ${plural(await store.prices.rm(a!, p), 'price')} of account ${a}`),
    );
  });
}
