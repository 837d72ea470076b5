// CDR search: the API's filters, pages of 50 (Next-Cursor), CSV export of
// the same filters (fetched with the token, saved from a blob URL).
import { useState } from 'preact/hooks';
import { request } from '../api';
import { Table, txt, when } from '../components/Table';
import { act, useLoad } from '../load';
import { go } from '../route';
import type { Cdr } from '../types';

const FILTERS = ['since', 'until', 'trunk', 'account', 'direction', 'disposition'] as const;
type Filters = Record<(typeof FILTERS)[number], string>;
const PAGE = 50;
const CSV_LIMIT = 10_000;
/** The export's bound: this many pages of CSV_LIMIT records. */
const CSV_PAGES = 100;

type LegFact = { transport: string; codec: string | null };

/** Each side's transport and codec from the CDR's extra.legs (caller side first), e.g. `DTLS-SRTP opus → RTP PCMA (transcoded)`. */
function mediaOf(c: Cdr): string {
  if (c.extra === null) return '';
  let legs: { a?: LegFact; b?: LegFact; transcoded?: boolean } | undefined;
  try {
    legs = (JSON.parse(c.extra) as { legs?: typeof legs }).legs;
  } catch {
    return '';
  }
  if (legs === undefined) return '';
  const side = (f: LegFact | undefined): string => (f === undefined ? '?' : `${f.transport} ${f.codec ?? '-'}`);
  return `${side(legs.a)} → ${side(legs.b)}${legs.transcoded === true ? ' (transcoded)' : ''}`;
}

function query(f: Filters): URLSearchParams {
  const q = new URLSearchParams();
  for (const k of FILTERS) if (f[k].trim() !== '') q.set(k, f[k].trim());
  return q;
}

export function Cdrs() {
  const [filters, setFilters] = useState<Filters>({
    since: '',
    until: '',
    trunk: '',
    account: '',
    direction: '',
    disposition: '',
  });
  const [applied, setApplied] = useState<Filters>(filters);
  const [rows, setRows] = useState<Cdr[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const fetchPage = async (f: Filters, cursor: string | null): Promise<{ rows: Cdr[]; next: string | null }> => {
    const q = query(f);
    q.set('limit', String(PAGE));
    if (cursor !== null) q.set('cursor', cursor);
    const res = await request('GET', `/cdrs?${q}`);
    return { rows: (await res.json()) as Cdr[], next: res.headers.get('Next-Cursor') };
  };
  useLoad(
    'cdrs',
    async () => {
      const p = await fetchPage(applied, null);
      setRows(p.rows);
      setNext(p.next);
    },
    [applied],
  );
  const more = (): void =>
    void act(async () => {
      const p = await fetchPage(applied, next);
      setRows((old) => [...old, ...p.rows]);
      setNext(p.next);
    });
  // The export is of the filters in the form; they are applied to the table too, so both show the same calls.
  const csv = (): void =>
    void act(async () => {
      delete document.body.dataset.csv;
      if (FILTERS.some((k) => filters[k] !== applied[k])) setApplied({ ...filters });
      // Every matching record: page after page along Next-Cursor (the header row kept once), at most CSV_PAGES pages.
      let text = '';
      let cursor: string | null = null;
      for (let page = 0; page < CSV_PAGES; page++) {
        const q = query(filters);
        q.set('limit', String(CSV_LIMIT));
        if (cursor !== null) q.set('cursor', cursor);
        const res = await request('GET', `/cdrs?${q}`, { accept: 'text/csv' });
        const body = await res.text();
        text += page === 0 ? body : body.slice(body.indexOf('\n') + 1);
        cursor = res.headers.get('Next-Cursor');
        if (cursor === null) break;
      }
      if (cursor !== null)
        throw new Error(
          `the export stopped at ${CSV_PAGES * CSV_LIMIT} records: narrow the filters (time, trunk, account)`,
        );
      const a = document.createElement('a');
      a.href = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
      a.download = 'cdrs.csv';
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
      document.body.dataset.csv = 'done';
      document.body.dataset.csvLines = String(text.split('\n').filter((l) => l !== '').length);
    });
  const set = (k: keyof Filters) => (e: Event) => {
    const v = (e.currentTarget as HTMLInputElement | HTMLSelectElement).value;
    setFilters((old) => ({ ...old, [k]: v }));
  };
  return (
    <div class="page">
      <h2>Call records</h2>
      <form
        id="cdrs-form"
        class="card form"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied({ ...filters });
        }}
      >
        <div class="fields">
          <label>
            <span>Since</span>
            <input name="since" value={filters.since} onInput={set('since')} placeholder="2026-01-31T00:00:00Z" />
          </label>
          <label>
            <span>Until</span>
            <input name="until" value={filters.until} onInput={set('until')} placeholder="ISO 8601" />
          </label>
          <label>
            <span>Trunk</span>
            <input name="trunk" value={filters.trunk} onInput={set('trunk')} />
          </label>
          <label>
            <span>Account</span>
            <input name="account" value={filters.account} onInput={set('account')} />
          </label>
          <label>
            <span>Direction</span>
            <select name="direction" value={filters.direction} onChange={set('direction')}>
              <option value="">any</option>
              <option value="inbound">inbound</option>
              <option value="outbound">outbound</option>
            </select>
          </label>
          <label>
            <span>Disposition</span>
            <select name="disposition" value={filters.disposition} onChange={set('disposition')}>
              <option value="">any</option>
              <option value="answered">answered</option>
              <option value="failed">failed</option>
            </select>
          </label>
        </div>
        <div class="buttons">
          <button type="submit" class="primary">
            Search
          </button>
          <button type="button" id="cdrs-csv" onClick={csv}>
            Export CSV
          </button>
        </div>
      </form>
      <div class="card">
        <Table<Cdr>
          id="cdrs-table"
          rows={rows}
          rowKey={(c) => c.callSid}
          empty="No call records match."
          columns={[
            { head: 'Start', cell: (c) => when(c.startAt) },
            { head: 'Call', cell: (c) => c.callSid, cls: 'mono' },
            { head: 'Direction', cell: (c) => c.direction },
            { head: 'Trunk', cell: (c) => txt(c.trunk) },
            { head: 'Carrier', cell: (c) => txt(c.carrier) },
            { head: 'From', cell: (c) => c.from },
            { head: 'To', cell: (c) => c.to },
            { head: 'Seconds', cell: (c) => String(c.duration), cls: 'num' },
            {
              head: 'Status',
              cell: (c) => (
                <span class={c.status >= 200 && c.status < 300 ? 'good' : 'bad'}>{`${c.status} ${c.reason}`}</span>
              ),
            },
            { head: 'Hung up by', cell: (c) => c.hangupBy },
            { head: 'Media', cell: (c) => mediaOf(c) },
          ]}
          actions={[{ label: 'Ladder', run: (c) => go('ladder', c.callSid) }]}
        />
        {next !== null && (
          <button type="button" id="cdrs-more" onClick={more}>
            More
          </button>
        )}
      </div>
    </div>
  );
}
