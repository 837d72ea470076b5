/**
 * `trunkline cdr export --account A --from ISO --to ISO [--format csv|json]`
 * (the real CLI, a child process) and its API twin GET /api/v1/cdrs/export,
 * on SQLite and PostgreSQL: the account's CDRs whose call started in
 * [from, to), oldest first; CSV with a header row and RFC 4180 quoting read
 * back by a parser of its own; JSON one array; the range's edges; errors in
 * one line. Then 20,000 CDRs inserted through the repository: the store
 * pages them (never more than a page at once) and the export has them all,
 * in order.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseConfig } from '../../src/config/schema.js';
import { openStore, type Store } from '../../src/store/index.js';
import { CDR_RANGE_PAGE } from '../../src/store/repos/cdrs.js';
import { cdrJson } from '../../src/store/json.js';
import type { Cdr } from '../../src/trunking/model.js';
import { postgresBackend, sqliteBackend, type Backend } from '../helpers/backends.js';
import { harness, injectCall, type Harness } from '../api/helpers.js';
import { sampleCdr } from '../helpers/sample-cdr.js';
import { failed, ok, run, type RunResult } from './helpers.js';

const COLUMNS =
  'callSid,account,trunk,carrier,direction,from,to,startAt,answerAt,endAt,duration,status,reason,hangupBy,extra,cost,rate,ratePrefix,billed,fromReceived,toReceived,emergency,gateway,pddMs,q850,mos,price,aCallId,bCallId,ringMs,durationMs';

/** RFC 4180 read back: rows of fields; quoted fields may hold commas, doubled quotes and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
      } else if (ch === '"') {
        quoted = false;
        i++;
      } else {
        field += ch;
        i++;
      }
    } else if (ch === '"' && field === '') {
      quoted = true;
      i++;
    } else if (ch === ',') {
      row.push(field);
      field = '';
      i++;
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i += 2;
    } else {
      assert.notEqual(ch, '\n', `a bare LF outside quotes at ${i}`);
      assert.notEqual(ch, '"', `a quote inside an unquoted field at ${i}`);
      field += ch;
      i++;
    }
  }
  assert.equal(field, '', 'the last row ends with CRLF');
  assert.equal(row.length, 0, 'the last row ends with CRLF');
  return rows;
}

/** A CDR's JSON as CSV fields read back: null empty, numbers as text. */
function asFields(c: Cdr): string[] {
  return Object.values(cdrJson(c)).map((v) => (v === null ? '' : String(v)));
}

const T0 = Date.parse('2026-03-01T00:00:00Z');
const FROM = '2026-03-01T00:00:00Z';
const TO = '2026-03-02T00:00:00Z';
const DAY = 86_400_000;

const cdr = sampleCdr;

/** In the range, in the order of the export (start, then call sid); and those that must stay out. */
const INSIDE: Cdr[] = [
  cdr('CA-first', T0), // at --from: included
  cdr('CA-quotes', T0 + 1000, {
    from: '"Caller, Inc" <sip:+912240001234@pbx>',
    reason: 'Busy, "here"',
    status: 486,
    answerAt: null,
    duration: 0,
    hangupBy: 'callee',
    extra: '{"rtp":{"lost":0,"jitter":1.5},"codec":"PCMA"}',
  }),
  cdr('CA-same-a', T0 + 2000, { direction: 'inbound', carrier: null, trunk: 'pbx2' }),
  cdr('CA-same-b', T0 + 2000),
  // 1 ms before --to: included; priced by a rate deck (its cost columns as decimals).
  cdr('CA-last', T0 + DAY - 1, { cost: 35_000, rate: 60_000, ratePrefix: '+4420', billed: 30 }),
];
const OUTSIDE: Cdr[] = [
  cdr('CA-before', T0 - 1),
  cdr('CA-at-to', T0 + DAY), // --to is excluded
  cdr('CA-beta', T0 + 5000, { account: 'beta', trunk: 'b1' }),
  cdr('CA-nobody', T0 + 6000, { account: null, trunk: null }),
];

function databaseUrl(db: DatabaseConfig): string {
  return db.kind === 'sqlite' ? `sqlite:${db.file}` : db.url;
}

function suite(backend: Backend): void {
  describe(`cdr export on ${backend.label}`, async () => {
    const skip = await backend.skip();
    let dir = '';
    let config = '';
    let store: Store;
    let h: Harness;
    before(async () => {
      if (skip !== false) return;
      const db = await backend.fresh();
      dir = await mkdtemp(join(tmpdir(), 'trunkline-cdrexport-'));
      config = join(dir, 'trunkline.yaml');
      await writeFile(config, `database: ${JSON.stringify(databaseUrl(db))}\ndata: ${JSON.stringify(dir)}\n`);
      store = await openStore(db, { env: {} });
      await store.accounts.add({ name: 'acme' });
      await store.accounts.add({ name: 'beta' });
      await store.accounts.add({ name: 'quiet' });
      // Inserted out of order: the export sorts.
      for (const c of [...OUTSIDE, ...INSIDE].reverse()) await store.cdrs.insert(c);
      h = await harness(backend);
      for (const name of ['acme', 'quiet']) await h.store.accounts.add({ name });
      for (const c of [...OUTSIDE.filter((o) => o.account === null || o.account === 'acme'), ...INSIDE])
        await h.store.cdrs.insert(c);
    });
    after(async () => {
      if (skip !== false) return;
      await store.close();
      await h.close();
      await rm(dir, { recursive: true, force: true });
      await backend.cleanup();
    });

    const cli = (args: string[]): Promise<RunResult> => run(['cdr', 'export', ...args, '--config', config]);

    test("CSV: a header row, the account's CDRs in [from, to) oldest first, RFC 4180 quoting", { skip }, async () => {
      const out = ok(await cli(['--account', 'acme', '--from', FROM, '--to', TO]), 'export csv');
      const rows = parseCsv(out);
      assert.equal(rows[0]!.join(','), COLUMNS, 'the header row, in the documented order');
      assert.deepEqual(rows.slice(1), INSIDE.map(asFields));
      assert.ok(out.includes('"""Caller, Inc"" <sip:+912240001234@pbx>"'), 'quotes doubled, the field quoted');
      assert.ok(out.includes('"{""rtp"":{""lost"":0,""jitter"":1.5},""codec"":""PCMA""}"'), 'extra quoted');
      assert.deepEqual(rows.at(-1)!.slice(15, 19), ['0.035', '0.06', '+4420', '30'], 'the cost columns');
      assert.equal(
        ok(await cli(['--account', 'acme', '--from', FROM, '--to', TO, '--format', 'csv']), 'explicit csv'),
        out,
      );
      // The edges: [from, to) moved by 1 ms each way.
      const edge = parseCsv(
        ok(
          await cli(['--account', 'acme', '--from', '2026-02-28T23:59:59.999Z', '--to', '2026-03-01T23:59:59.999Z']),
          'moved range',
        ),
      );
      assert.deepEqual(
        edge.slice(1).map((r) => r[0]),
        ['CA-before', 'CA-first', 'CA-quotes', 'CA-same-a', 'CA-same-b'],
      );
      assert.equal(
        ok(await cli(['--account', 'quiet', '--from', FROM, '--to', TO]), 'no CDRs'),
        `${COLUMNS}\r\n`,
        'an account without calls: the header alone',
      );
    });

    test('JSON: one array of the objects cdr list --json prints', { skip }, async () => {
      const out = ok(await cli(['--account', 'acme', '--from', FROM, '--to', TO, '--format', 'json']), 'export json');
      assert.deepEqual(JSON.parse(out), INSIDE.map(cdrJson));
      const list = JSON.parse(ok(await run(['cdr', 'list', '--json', '--config', config]), 'cdr list')) as unknown[];
      assert.ok(
        list.some((c) => JSON.stringify(c) === JSON.stringify(cdrJson(INSIDE[1]!))),
        'the same objects',
      );
      assert.equal(
        ok(await cli(['--account', 'quiet', '--from', FROM, '--to', TO, '--format', 'json']), 'none'),
        '[]\n',
      );
    });

    test('errors: one line, exit 1', { skip }, async () => {
      failed(await cli(['--account', 'ghost', '--from', FROM, '--to', TO]), 'unknown account ghost', 'unknown account');
      failed(
        await cli(['--account', 'acme', '--from', 'yesterday', '--to', TO]),
        'from: expected an ISO 8601 time like 2026-01-31T12:00:00Z, got "yesterday"',
        'bad --from',
      );
      failed(
        await cli(['--account', 'acme', '--from', FROM, '--to', '2026-13-01']),
        /^to: expected an ISO 8601/,
        'bad --to',
      );
      failed(
        await cli(['--account', 'acme', '--from', TO, '--to', FROM]),
        /^to: expected a time after --from/,
        'empty',
      );
      failed(await cli(['--account', 'acme', '--from', FROM, '--to', TO, '--format', 'xml']), /^format: /, 'format');
      failed(await cli(['--from', FROM, '--to', TO]), /^account: cdr export needs --account/, 'no account');
      failed(await cli(['--account', 'acme', '--to', TO]), /^from: cdr export needs --from/, 'no from');
      failed(await cli(['--account', 'a b', '--from', FROM, '--to', TO]), /^account: expected a name/, 'bad name');
    });

    test('the API twin: GET /api/v1/cdrs/export, CSV or JSON, 400 and 404', { skip }, async () => {
      const q = `account=acme&from=${FROM}&to=${TO}`;
      let r = await injectCall(h, 'GET', `/api/v1/cdrs/export?${q}`, { token: h.reader });
      assert.equal(r.status, 200);
      assert.match(String(r.headers['content-type']), /^text\/csv/);
      assert.match(String(r.headers['content-disposition']), /filename="cdrs-acme\.csv"/);
      const rows = parseCsv(r.json as string);
      assert.equal(rows[0]!.join(','), COLUMNS);
      assert.deepEqual(rows.slice(1), INSIDE.map(asFields));
      r = await injectCall(h, 'GET', `/api/v1/cdrs/export?${q}&format=json`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, INSIDE.map(cdrJson));
      r = await injectCall(h, 'GET', `/api/v1/cdrs/export?account=ghost&from=${FROM}&to=${TO}`);
      assert.deepEqual([r.status, r.json], [404, { error: 'unknown account ghost' }]);
      r = await injectCall(h, 'GET', `/api/v1/cdrs/export?account=acme&from=soon&to=${TO}`);
      assert.equal(r.status, 400);
      assert.match(r.json.error, /^from: /);
      r = await injectCall(h, 'GET', `/api/v1/cdrs/export?account=acme&from=${TO}&to=${FROM}`);
      assert.deepEqual([r.status, r.json.error], [400, 'to: expected a time after from']);
      assert.equal((await injectCall(h, 'GET', `/api/v1/cdrs/export?${q}`, { token: null })).status, 401);
      assert.equal((await injectCall(h, 'GET', '/api/v1/cdrs/CA-first')).json.callSid, 'CA-first', 'GET one still');
    });
  });
}

suite(sqliteBackend('cdrexport'));
suite(postgresBackend('cdrexport'));

describe('cdr export of 20,000 CDRs (SQLite)', () => {
  const backend = sqliteBackend('cdrexport-many');
  const N = 20_000;
  let dir = '';
  let config = '';
  let store: Store;
  before(async () => {
    const db = await backend.fresh();
    dir = await mkdtemp(join(tmpdir(), 'trunkline-cdrexport-many-'));
    config = join(dir, 'trunkline.yaml');
    await writeFile(config, `database: ${JSON.stringify(databaseUrl(db))}\ndata: ${JSON.stringify(dir)}\n`);
    store = await openStore(db, { env: {} });
    await store.accounts.add({ name: 'acme' });
    // Two calls in each millisecond: pages must break ties by call sid without losing or repeating one.
    for (let i = 0; i < N; i++) await store.cdrs.insert(cdr(`CA${String(i).padStart(6, '0')}`, T0 + Math.floor(i / 2)));
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
    await backend.cleanup();
  });

  test('the store reads them a page at a time, every row once, in order', async () => {
    let pages = 0;
    let n = 0;
    let last = '';
    for await (const page of store.cdrs.range({ account: 'acme', from: T0, to: T0 + DAY })) {
      pages++;
      assert.ok(page.length <= CDR_RANGE_PAGE, `a page of ${page.length} rows`);
      for (const c of page) {
        const sid = c.callSid;
        assert.ok(sid > last, `${sid} after ${last}`);
        last = sid;
        n++;
      }
    }
    assert.equal(n, N);
    assert.equal(pages, N / CDR_RANGE_PAGE);
  });

  test('CSV and JSON have them all, in order', async () => {
    const args = ['cdr', 'export', '--account', 'acme', '--from', FROM, '--to', TO, '--config', config];
    const csv = ok(await run(args), 'export csv');
    const lines = csv.split('\r\n');
    assert.equal(lines.length, N + 2, 'a header, N rows and the last CRLF');
    assert.equal(lines[1]!.split(',')[0], 'CA000000');
    assert.equal(lines[N]!.split(',')[0], `CA${String(N - 1).padStart(6, '0')}`);
    const sids = lines.slice(1, -1).map((l) => l.slice(0, l.indexOf(',')));
    assert.deepEqual(sids, [...sids].sort(), 'oldest first');
    assert.equal(new Set(sids).size, N, 'each once');
    const json = JSON.parse(ok(await run([...args, '--format', 'json']), 'export json')) as { callSid: string }[];
    assert.equal(json.length, N);
    assert.deepEqual(
      json.map((c) => c.callSid),
      sids,
    );
  });
});
