/**
 * The routing module (`routing.module`) with real SIPp peers on loopback:
 * a PBX trunk (127.0.0.2) calls through Trunkline to two SIPp carriers
 * (127.0.0.5, 127.0.0.6) of a priority route `first,second`. The module
 * puts the second carrier first and adds a header the carrier must
 * receive; `route explain` (the CLI, running the module as the server
 * does) shows what it changed. Then the file is rewritten to refuse, the
 * server reloaded (SIGHUP), and the next call gets the module's refusal,
 * its CDR the reason.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { haveCommand, sipp, sippBackground, scenarioWith, type BackgroundSipp } from '../helpers/sipp.js';
import { run as runCli } from '../cli/helpers.js';

const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';

const PBX = '127.0.0.2';
const GW = { first: '127.0.0.5', second: '127.0.0.6' };
const CALLER = '+14155550100';
const NUMBER = '+442071230077';
const dir = mkdtempSync(join(tmpdir(), 'trunkline-rmod-'));
const MODULE = join(dir, 'route.mjs');

/** The module under test: the table's order reversed, a header saying so. */
const REVERSE = `
export default function route(call) {
  return {
    carriers: call.candidates.map((c) => c.carrier).reverse(),
    headers: { 'X-Route-Tag': 'module-' + call.trunk },
  };
}
`;

let server: RunningTrunkline;
let port: number;
const gwPort: Record<string, number> = {};

async function cli(args: string[]): Promise<string> {
  const r = await runCli([...args, '--config', server.configFile]);
  assert.equal(r.code, 0, `trunkline ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function answering(carrier: 'first' | 'second', must: string): BackgroundSipp {
  return sippBackground(
    scenarioWith('trunk-uas-expect.xml', { must, hidden: 'xx-none', hiddenAddr: 'xx-none' }),
    gwPort[carrier]!,
    { ip: GW[carrier], timeoutS: 20 },
  );
}

interface CdrJson {
  to: string;
  carrier: string | null;
  status: number;
  reason: string;
  duration: number;
  price: string | null;
  cost: string | null;
}

async function cdrTo(to: string, status: number): Promise<CdrJson | undefined> {
  for (const end = Date.now() + 5000; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    const rows = JSON.parse(await cli(['cdr', 'list', '--json', '--limit', '100'])) as CdrJson[];
    const row = rows.find((c) => c.to === to && c.status === status);
    if (row !== undefined) return row;
  }
  return undefined;
}

before(async () => {
  if (skip !== false) return;
  writeFileSync(MODULE, REVERSE);
  port = await freePort();
  for (const c of Object.keys(GW)) gwPort[c] = await freePort();
  server = await startTrunkline(
    [
      `listen: [udp:127.0.0.1:${port}]`,
      'sip: {timers: {t1: 100, t2: 4000, t4: 5000}}',
      'trunking: {gatewayTimeout: 3, ping: {interval: 0}}',
      `routing: {module: ${JSON.stringify(MODULE)}, moduleBudgetMs: 200}`,
      '',
    ].join('\n'),
  );
  await cli(['account', 'add', 'acme']);
  await cli(['trunk', 'add', 'pbx', '--account', 'acme', '--ip', `${PBX}/32`]);
  await cli(['did', 'add', CALLER, '--trunk', 'pbx']);
  for (const [c, ip] of Object.entries(GW)) await cli(['carrier', 'add', c, '--gateway', `sip:${ip}:${gwPort[c]}`]);
  await cli(['route', 'add', '+44', '--carrier', 'first,second']);
  // The server sees the routes within 2 s (it polls every second).
  await new Promise((r) => setTimeout(r, 2200));
});

after(async () => {
  if (skip !== false) return;
  assert.equal(await server.stop(), 0);
});

test('the module puts the second carrier first and adds a header it receives; explain shows it', { skip }, async () => {
  // Both carriers answer: were the table's order kept, first would take the call.
  const first = answering('first', 'INVITE');
  const second = answering('second', 'X-Route-Tag: module-pbx');
  const r = await sipp({
    scenario: scenarioWith('trunk-uac-call.xml', {
      caller: CALLER,
      hidden: 'X-Call-Sid|X-Leg-Sid|X-Trunk-Sid|X-Route-Tag',
      hiddenAddr: 'xx-none',
      hold: '0',
    }),
    target: `127.0.0.1:${port}`,
    ip: PBX,
    localPort: await freePort(),
    timeoutS: 20,
    extra: ['-s', NUMBER],
  });
  assert.equal(r.code, 0, `call:\n${r.stdout.slice(-2500)}\nserver:\n${server.output().slice(-3000)}`);
  const s = await second.done;
  assert.equal(s.code, 0, `second carrier:\n${s.stdout.slice(-2500)}`);
  await first.stop();
  assert.equal((await cdrTo(NUMBER, 200))?.carrier, 'second');
  const e = JSON.parse(await cli(['route', 'explain', NUMBER, '--from', 'pbx', '--json'])) as {
    carriers: Array<{ name: string; why: string }>;
    module: { file: string; changed: string[]; error: string | null };
  };
  assert.deepEqual(
    e.carriers.map((c) => c.name),
    ['second', 'first'],
  );
  assert.match(e.carriers[0]!.why, /placed 1 by the routing module \(the table had it 2\)/);
  assert.deepEqual(
    [e.module.file, e.module.changed, e.module.error],
    [MODULE, ['carriers: first,second -> second,first', 'header added: X-Route-Tag: module-pbx'], null],
  );
  assert.match(
    await cli(['route', 'explain', NUMBER, '--from', 'pbx']),
    /module\s+.*route\.mjs .*carriers: first,second -> second,first/,
  );
});

test(
  'sell prices: a call below cost is refused 403 Not profitable (explain agrees) unless allowed; the CDR has its price',
  { skip },
  async () => {
    const deck = (name: string, csv: string): string => {
      const file = join(dir, `${name}.csv`);
      writeFileSync(file, csv);
      return file;
    };
    await cli(['rate', 'import', 'first', deck('first', 'prefix,rate\n44,0.02\n')]);
    await cli(['rate', 'import', 'second', deck('second', 'prefix,rate\n44,0.03\n')]);
    // acme pays 0.01 a minute (and 0.05 a call): less than the cheapest carrier's 0.02.
    await cli(['price', 'import', 'acme', deck('acme', 'prefix,rate,increment,fee\n44,0.01,60/60,0.05\n')]);
    const refused = await sipp({
      scenario: scenarioWith('trunk-uac-expect.xml', { caller: CALLER, expect: '403' }),
      target: `127.0.0.1:${port}`,
      ip: PBX,
      localPort: await freePort(),
      timeoutS: 20,
      extra: ['-s', '+442071230079'],
    });
    assert.equal(refused.code, 0, `call expecting 403:\n${refused.stdout.slice(-2500)}`);
    assert.equal((await cdrTo('+442071230079', 403))?.reason, 'Not profitable');
    const e = JSON.parse(await cli(['route', 'explain', '+442071230079', '--from', 'pbx', '--json'])) as {
      refused: string;
      sellPrice: { rate: string };
    };
    assert.equal(
      e.refused,
      '403: Not profitable (the cheapest carrier, first, costs 0.02/min; account acme pays 0.01/min for +44)',
    );
    assert.equal(e.sellPrice.rate, '0.01');
    // Allowed to sell below cost: the call goes (the module's order: second first), priced both ways.
    await cli(['account', 'set', 'acme', '--sell-below-cost', 'yes']);
    // The server sees the account changed within a second (it polls the store every second).
    await new Promise((res) => setTimeout(res, 1500));
    const second = answering('second', 'INVITE');
    const r = await sipp({
      scenario: scenarioWith('trunk-uac-call.xml', {
        caller: CALLER,
        hidden: 'xx-none',
        hiddenAddr: 'xx-none',
        hold: '0',
      }),
      target: `127.0.0.1:${port}`,
      ip: PBX,
      localPort: await freePort(),
      timeoutS: 20,
      extra: ['-s', '+442071230080'],
    });
    assert.equal(r.code, 0, `call:\n${r.stdout.slice(-2500)}\nserver:\n${server.output().slice(-3000)}`);
    assert.equal((await second.done).code, 0);
    const c = await cdrTo('+442071230080', 200);
    // fee 0.05 + 0.01 a minute by 60/60 (a call of 0 s bills nothing but the fee); the carrier's 0.03 by 60/60.
    const billed = c!.duration > 0;
    assert.deepEqual([c!.carrier, c!.price, c!.cost], ['second', billed ? '0.06' : '0.05', billed ? '0.03' : '0.00']);
  },
);

test('a reload (SIGHUP) loads the file anew: its refusal reaches the PBX and the CDR', { skip }, async () => {
  writeFileSync(MODULE, `export default () => ({ refuse: { status: 403, reason: 'Refused by module' } });`);
  const loaded = (): number => server.output().split('routing module loaded').length - 1;
  const before = loaded();
  server.proc.kill('SIGHUP');
  for (const end = Date.now() + 5000; loaded() === before && Date.now() < end;)
    await new Promise((r) => setTimeout(r, 50));
  assert.equal(loaded(), before + 1, `reloaded:\n${server.output().slice(-2000)}`);
  const r = await sipp({
    scenario: scenarioWith('trunk-uac-expect.xml', { caller: CALLER, expect: '403' }),
    target: `127.0.0.1:${port}`,
    ip: PBX,
    localPort: await freePort(),
    timeoutS: 20,
    extra: ['-s', '+442071230078'],
  });
  assert.equal(r.code, 0, `call expecting 403:\n${r.stdout.slice(-2500)}`);
  assert.equal((await cdrTo('+442071230078', 403))?.reason, 'Refused by module');
});
