/**
 * `trunkline rate` and the routing modes as the real CLI (a child process)
 * against SQLite in a temp data directory: import from a file and from
 * standard input, its one-line report; a bad file refused with the file,
 * line and column named and nothing imported; list (decks, rates, --prefix,
 * JSON), show (the longest prefix, the row in force, --at), rm; `route add
 * --mode lcr|weighted` and its errors; `route explain` with each carrier's
 * rate and why it is placed there or left out.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { failed, ok, run, table, type RunResult } from './helpers.js';

let dir = '';
after(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

test('rate import / list / show / rm, route modes and explain with rates', async () => {
  dir = await mkdtemp(join(tmpdir(), 'trunkline-cli-rates-'));
  const config = join(dir, 'test.yaml');
  await writeFile(config, `data: ${join(dir, 'data')}\n`);
  const cli = (args: string[], input?: string): Promise<RunResult> =>
    run([...args, '--config', config], input === undefined ? { cwd: dir } : { cwd: dir, input });
  const file = async (name: string, text: string): Promise<string> => {
    const f = join(dir, name);
    await writeFile(f, text);
    return f;
  };

  ok(await cli(['account', 'add', 'acme']), 'account add');
  ok(await cli(['trunk', 'add', 'pbx', '--account', 'acme', '--ip', '127.0.0.2']), 'trunk add');
  for (const c of ['cheap', 'dear', 'none'])
    ok(await cli(['carrier', 'add', c, '--gateway', `sip:${c}.example`]), `carrier add ${c}`);

  // Import: a file (BOM, CRLF, a column ignored), then standard input.
  const good = await file(
    'cheap.csv',
    '\ufeffprefix,rate,increment,fee,effective,country\r\n44,0.02,60/60,,,UK\r\n4420,0.01,30/6,0.05,,London\r\n4420,0.008,30/6,0.05,2020-01-01,London\r\n',
  );
  assert.match(
    ok(await cli(['rate', 'import', 'cheap', good]), 'rate import'),
    /^imported 3 rates for carrier cheap from cheap\.csv in \d+\.\d s \(added to its deck: 3 rates now\); columns ignored: country\n$/,
  );
  assert.match(
    ok(await cli(['rate', 'import', 'dear', '-'], 'prefix,rate\n44,0.05\n4420,0.03\n'), 'rate import -'),
    /^imported 2 rates for carrier dear from stdin in \d+\.\d s \(added to its deck: 2 rates now\)\n$/,
  );

  // A bad file: the file, line and column named; nothing imported.
  const bad = await file('bad.csv', 'prefix,rate\n44,0.01\n33,0,02\n');
  failed(
    await cli(['rate', 'import', 'dear', bad, '--replace']),
    `${bad}: line 3: 3 fields, the header has 2`,
    'bad file',
  );
  const bad2 = await file('bad2.csv', 'prefix,rate,increment\n44,0.01,60\n');
  failed(
    await cli(['rate', 'import', 'dear', bad2]),
    `${bad2}: line 2, column 3 (increment): expected FIRST/NEXT seconds like 60/60, 1/1 or 30/6 (1 to 3600 each), got "60"`,
    'bad increment',
  );
  failed(
    await cli(['rate', 'import', 'dear', join(dir, 'missing.csv')]),
    /missing\.csv: cannot read it \(ENOENT\)$/,
    'no file',
  );
  failed(await cli(['rate', 'import', 'ghost', good]), 'unknown carrier ghost', 'unknown carrier');

  // list: the decks, then one carrier's rates.
  assert.deepEqual(
    table(ok(await cli(['rate', 'list']), 'rate list'), ['CARRIER', 'RATES', 'SOURCE', 'IMPORTED']).map((r) =>
      r.slice(0, 3),
    ),
    [
      ['cheap', '3', 'cheap.csv'],
      ['dear', '2', 'stdin'],
    ],
  );
  assert.deepEqual(
    table(ok(await cli(['rate', 'list', 'cheap']), 'rate list cheap'), [
      'CARRIER',
      'PREFIX',
      'RATE',
      'INCREMENT',
      'FEE',
      'EFFECTIVE',
    ]),
    [
      ['cheap', '+44', '0.02', '60/60', '0.00', '-'],
      ['cheap', '+4420', '0.01', '30/6', '0.05', '-'],
      ['cheap', '+4420', '0.008', '30/6', '0.05', '2020-01-01T00:00:00.000Z'],
    ],
  );
  assert.deepEqual(JSON.parse(ok(await cli(['rate', 'list', '--prefix', '4420', '--json']), 'rate list --prefix')), [
    { carrier: 'cheap', prefix: '+4420', rate: '0.01', increment: '30/6', fee: '0.05', effective: null },
    {
      carrier: 'cheap',
      prefix: '+4420',
      rate: '0.008',
      increment: '30/6',
      fee: '0.05',
      effective: '2020-01-01T00:00:00.000Z',
    },
    { carrier: 'dear', prefix: '+4420', rate: '0.03', increment: '60/60', fee: '0.00', effective: null },
  ]);

  // show: the longest prefix of a number, the row in force now and at a time before 2020.
  const shown = ok(await cli(['rate', 'show', 'cheap', '+442071234567']), 'rate show');
  assert.match(shown, /^prefix\s+\+4420 \(the longest prefix of \+442071234567 in the deck\)$/m);
  assert.match(shown, /^in force\s+0\.008\/min, 30\/6, fee 0\.05, from 2020-01-01T00:00:00\.000Z$/m);
  const before2020 = JSON.parse(
    ok(await cli(['rate', 'show', 'cheap', '4420', '--at', '2019-06-01', '--json']), 'show --at'),
  );
  assert.deepEqual([before2020.prefix, before2020.inForce.rate, before2020.rows.length], ['+4420', '0.01', 2]);
  failed(await cli(['rate', 'show', 'cheap', '+33']), 'carrier cheap has no rate for +33', 'show: no rate');
  failed(await cli(['rate', 'show', 'cheap', 'x']), /^prefix: expected a dialling prefix/, 'show: bad prefix');

  // Routes with a mode.
  assert.equal(
    ok(await cli(['route', 'add', '+44', '--carrier', 'dear,none,cheap', '--mode', 'lcr']), 'route add lcr'),
    'added route +44 -> dear, none, cheap (mode lcr)\n',
  );
  assert.equal(
    ok(await cli(['route', 'add', '+49', '--carrier', 'dear:3,cheap', '--mode', 'weighted']), 'route add weighted'),
    'added route +49 -> dear:3, cheap:1 (mode weighted)\n',
  );
  failed(
    await cli(['route', 'add', '+33', '--carrier', 'dear:3']),
    'carrier: weights (NAME:WEIGHT) go with --mode weighted, not priority',
    'weights without weighted',
  );
  failed(
    await cli(['route', 'add', '+33', '--carrier', 'dear', '--mode', 'cheapest']),
    'mode: expected one of priority, lcr, weighted, got "cheapest"',
    'bad mode',
  );
  failed(
    await cli(['route', 'add', '+33', '--carrier', 'dear:0', '--mode', 'weighted']),
    /^carrier: expected NAME:WEIGHT with a weight from 1/,
    'bad weight',
  );
  assert.deepEqual(
    table(ok(await cli(['route', 'list']), 'route list'), ['PREFIX', 'MODE', 'CARRIERS', 'CREATED']).map((r) =>
      r.slice(0, 3),
    ),
    [
      ['+44', 'lcr', 'dear,none,cheap'],
      ['+49', 'weighted', 'dear:3,cheap:1'],
    ],
  );

  // explain: the order by rate, each rate and why; the carrier without a rate left out.
  const ex = JSON.parse(
    ok(await cli(['route', 'explain', '+442071234567', '--from', 'pbx', '--json']), 'explain --json'),
  );
  assert.deepEqual([ex.route, ex.mode, ex.refused], ['+44', 'lcr', null]);
  assert.deepEqual(
    ex.carriers.map((c: { name: string; rate: { prefix: string; rate: string }; why: string }) => [
      c.name,
      c.rate.prefix,
      c.rate.rate,
      c.why,
    ]),
    [
      ['cheap', '+4420', '0.008', 'cheapest: 0.008/min for +4420, 30/6, fee 0.05, from 2020-01-01'],
      ['dear', '+4420', '0.03', '0.03/min for +4420, 60/60: dearer than cheap'],
    ],
  );
  assert.deepEqual(ex.leftOut, [{ name: 'none', why: 'no rate in its deck for this number (mode lcr skips it)' }]);
  const text = ok(await cli(['route', 'explain', '+442071234567', '--from', 'pbx']), 'explain');
  assert.match(text, /^mode\s+lcr$/m);
  assert.match(
    text,
    /^carriers\s+1\. cheap \(cheapest: 0\.008\/min for \+4420.*; 2\. dear \(0\.03\/min for \+4420, 60\/60: dearer than cheap;/m,
  );
  assert.match(text, /^left out\s+none \(no rate in its deck for this number \(mode lcr skips it\)\)$/m);
  const w = JSON.parse(ok(await cli(['route', 'explain', '+4930123', '--from', 'pbx', '--json']), 'explain weighted'));
  assert.deepEqual(
    w.carriers.map((c: { name: string; weight: number; why: string }) => [c.name, c.weight, c.why]),
    [
      ['dear', 3, 'weight 3 of 4: first for 75% of calls, else tried after the one drawn'],
      ['cheap', 1, 'weight 1 of 4: first for 25% of calls, else tried after the one drawn'],
    ],
  );
  // No carrier of an lcr route with a rate: refused, and why.
  ok(await cli(['route', 'add', '+33', '--carrier', 'none', '--mode', 'lcr']), 'route add +33');
  const none = JSON.parse(ok(await cli(['route', 'explain', '+33123456', '--from', 'pbx', '--json']), 'explain +33'));
  assert.match(
    none.refused,
    /^404: No rated carrier \(route \+33 is lcr and none of its carriers has a rate for \+33123456\)$/,
  );

  // rm: one prefix, then the deck.
  assert.equal(
    ok(await cli(['rate', 'rm', 'cheap', '4420']), 'rate rm prefix'),
    'removed 2 rates of carrier cheap for prefix +4420\n',
  );
  assert.equal(ok(await cli(['rate', 'rm', 'cheap']), 'rate rm'), 'removed 1 rate of carrier cheap\n');
  failed(await cli(['rate', 'rm', 'cheap']), 'carrier cheap has no rates', 'rm again');
  // --replace swaps the deck.
  assert.match(
    ok(await cli(['rate', 'import', 'dear', '-', '--replace'], 'prefix,rate\n1,0.001\n'), 'import --replace'),
    /\(deck replaced: 1 rate now\)/,
  );
  assert.deepEqual(
    JSON.parse(ok(await cli(['rate', 'list', 'dear', '--json']), 'list dear')).map((r: { prefix: string }) => r.prefix),
    ['+1'],
  );
});
