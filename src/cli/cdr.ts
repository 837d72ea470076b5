/**
 * `trunkline cdr list [--json] [--since ISO8601] [--until ISO8601] [--trunk
 * NAME] [--account ACC] [--direction inbound|outbound] [--disposition
 * answered|failed] [--limit N] [--cursor C]`: call records, newest first,
 * at most --limit (default 100) of them. `--cursor` takes the `next` of an
 * earlier `--json --page` answer.
 */
import type { Command } from 'commander';
import type { CdrFilter } from '../trunking/model.js';
import { CDR_DEFAULT_LIMIT, CDR_MAX_LIMIT } from '../store/repos/cdrs.js';
import { withConfigOption } from './common.js';
import { isoTime, printJson, printList } from './output.js';
import { cdrJson } from '../store/json.js';
import { CliError, commandGroup, orFail, withStore } from './store.js';
import { intOption } from './trunking-common.js';

/** An ISO 8601 time with a date (`2026-01-31`, `2026-01-31T12:00:00Z`, with an offset) as ms. */
function isoOption(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  const t = /^\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)?$/.test(value.trim())
    ? Date.parse(value.trim())
    : NaN;
  if (Number.isNaN(t)) {
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

export function registerCdr(program: Command): void {
  const group = commandGroup(program, 'cdr', 'call records: list');

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
        ['status', (c) => c.status],
        ['hangup', (c) => c.hangupBy],
      ]);
    });
  });
}
