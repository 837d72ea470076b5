/**
 * `trunkline cdr list [--json] [--since ISO8601] [--until ISO8601] [--trunk
 * NAME] [--account ACC] [--direction inbound|outbound] [--disposition
 * answered|failed] [--limit N] [--cursor C]`: call records, newest first,
 * at most --limit (default 100) of them. `--cursor` takes the `next` of an
 * earlier `--json --page` answer.
 *
 * `trunkline cdr export --account ACC --from ISO8601 --to ISO8601 [--format
 * csv|json]`: every record of the account whose call started in [from, to),
 * oldest first, for billing: CSV (default) or a JSON array, streamed to
 * standard output (src/cdr/export.ts).
 */
import type { Command } from 'commander';
import type { CdrFilter } from '../trunking/model.js';
import { CDR_DEFAULT_LIMIT, CDR_MAX_LIMIT } from '../store/repos/cdrs.js';
import { withConfigOption } from './common.js';
import { isoTime, printJson, printList } from './output.js';
import { cdrJson } from '../store/json.js';
import { CliError, commandGroup, orFail, withStore } from './store.js';
import { intOption } from './trunking-common.js';
import { CDR_EXPORT_FORMATS, cdrExport, isoTimeOf, type CdrExportFormat, type CdrExportQuery } from '../cdr/export.js';
import { checkName } from '../trunking/validate.js';
import { formatMicros } from '../trunking/money.js';

/** An ISO 8601 time with a date (`2026-01-31`, `2026-01-31T12:00:00Z`, with an offset) as ms. */
function isoOption(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  const t = isoTimeOf(value);
  if (t === null) {
    throw new CliError(`${field}: expected an ISO 8601 time like 2026-01-31T12:00:00Z, got ${JSON.stringify(value)}`);
  }
  return t;
}

interface ListOptions {
  json?: boolean;
  page?: boolean;
  since?: string;
  until?: string;
  trunk?: string;
  account?: string;
  direction?: string;
  disposition?: string;
  limit?: string;
  cursor?: string;
}

function filterOf(o: ListOptions): CdrFilter {
  const f: CdrFilter = { limit: intOption(o.limit, 'limit', CDR_MAX_LIMIT) ?? CDR_DEFAULT_LIMIT };
  const since = isoOption(o.since, 'since');
  if (since !== undefined) f.since = since;
  const until = isoOption(o.until, 'until');
  if (until !== undefined) f.until = until;
  if (o.trunk !== undefined) f.trunk = o.trunk;
  if (o.account !== undefined) f.account = o.account;
  if (o.direction !== undefined) {
    if (o.direction !== 'inbound' && o.direction !== 'outbound') {
      throw new CliError(`direction: expected inbound or outbound, got ${JSON.stringify(o.direction)}`);
    }
    f.direction = o.direction;
  }
  if (o.disposition !== undefined) {
    if (o.disposition !== 'answered' && o.disposition !== 'failed') {
      throw new CliError(`disposition: expected answered or failed, got ${JSON.stringify(o.disposition)}`);
    }
    f.disposition = o.disposition;
  }
  if (o.cursor !== undefined) f.cursor = o.cursor;
  return f;
}

interface ExportOptions {
  account?: string;
  from?: string;
  to?: string;
  format?: string;
}

function exportQuery(o: ExportOptions): CdrExportQuery {
  if (o.account === undefined) throw new CliError('account: cdr export needs --account ACC');
  const account = checkName(o.account, 'account');
  const from = isoOption(o.from, 'from');
  if (from === undefined) throw new CliError('from: cdr export needs --from ISO8601');
  const to = isoOption(o.to, 'to');
  if (to === undefined) throw new CliError('to: cdr export needs --to ISO8601');
  if (to <= from) throw new CliError(`to: expected a time after --from, got ${JSON.stringify(o.to)}`);
  const format = o.format ?? 'csv';
  if (!(CDR_EXPORT_FORMATS as readonly string[]).includes(format))
    throw new CliError(`format: expected csv or json, got ${JSON.stringify(o.format)}`);
  return { account, from, to, format: format as CdrExportFormat };
}

/** Writes the chunks, waiting while the stream's buffer is full; rejects when it fails (a closed pipe). */
async function writeAll(out: NodeJS.WritableStream, chunks: AsyncIterable<string>): Promise<void> {
  for await (const chunk of chunks) {
    if (out.write(chunk)) continue;
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        out.off('drain', done);
        out.off('error', done);
        if (err === undefined) resolve();
        else reject(err);
      };
      out.on('drain', done);
      out.on('error', done);
    });
  }
}

export function registerCdr(program: Command): void {
  const group = commandGroup(program, 'cdr', 'call records: list, export');

  withConfigOption(
    group
      .command('list')
      .description(`list call records, newest first (at most --limit, default ${CDR_DEFAULT_LIMIT})`)
      .option('--json', 'print a JSON array')
      .option('--page', 'with --json: print {"cdrs": [...], "next": CURSOR|null} for paging with --cursor')
      .option('--since <iso8601>', 'only calls that started at or after this time')
      .option('--until <iso8601>', 'only calls that started before this time')
      .option('--trunk <name>', "only this trunk's calls")
      .option('--account <acc>', "only this account's calls")
      .option('--direction <dir>', 'inbound or outbound')
      .option('--disposition <d>', 'answered (2xx) or failed')
      .option('--limit <n>', `at most this many (1 to ${CDR_MAX_LIMIT})`)
      .option('--cursor <c>', 'the page after this cursor (from --json --page)'),
  ).action(async (opts: ListOptions, cmd: Command) => {
    const filter = await orFail(() => filterOf(opts));
    await withStore(cmd, async (store) => {
      const page = await store.cdrs.list(filter);
      if (opts.json === true && opts.page === true) {
        printJson({ cdrs: page.cdrs.map(cdrJson), next: page.next });
        return;
      }
      printList(page.cdrs, opts.json, cdrJson, [
        ['start', (c) => isoTime(c.startAt)],
        ['call sid', (c) => c.callSid],
        ['direction', (c) => c.direction],
        ['account', (c) => c.account],
        ['trunk', (c) => c.trunk],
        ['carrier', (c) => c.carrier],
        ['from', (c) => c.from],
        ['to', (c) => c.to],
        ['duration', (c) => c.duration],
        ['cost', (c) => (c.cost === undefined || c.cost === null ? null : formatMicros(c.cost))],
        ['status', (c) => c.status],
        ['hangup', (c) => c.hangupBy],
      ]);
    });
  });

  withConfigOption(
    group
      .command('export')
      .description(
        'every call record of an account whose call started in [--from, --to), oldest first, for billing (streamed)',
      )
      .option('--account <acc>', 'the account (required)')
      .option('--from <iso8601>', 'calls that started at or after this time (required)')
      .option('--to <iso8601>', 'and before this time (required)')
      .option('--format <f>', 'csv (RFC 4180, a header row; the default) or json (one array)'),
  ).action(async (opts: ExportOptions, cmd: Command) => {
    const q = await orFail(() => exportQuery(opts));
    await withStore(cmd, async (store) => writeAll(process.stdout, await cdrExport(store, q)));
  });
}
