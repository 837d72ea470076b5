/**
 * Least-cost routing with real SIPp carriers on loopback (127.0.0.2 the
 * customer's PBX, 127.0.0.5-8 the carriers' gateways), rate decks imported
 * with the CLI into the running server's store:
 *
 * - an `lcr` route: the carrier with the cheapest rate for the number (its
 *   deck's longest prefix) takes the call; a carrier without a rate is never
 *   tried; the cheapest answering 503 moves the call to the next cheapest;
 *   a 486 ends the call (no other carrier tried);
 * - a new deck (`rate import --replace`) reorders the next call at once;
 * - the CDR's cost: rate x the seconds billed by the deck's increments
 *   (30/6, 60/60, 1/1), plus the fee, shown by `cdr list --json`;
 * - a `weighted` route spreads calls by weight;
 * - a 200,000-row import while the server takes calls: the API stays
 *   responsive and the calls go through.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { haveCommand, sipp, sippBackground, scenarioWith, type BackgroundSipp } from '../helpers/sipp.js';
import { run as runCli } from '../cli/helpers.js';

const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';

const PBX = '127.0.0.2';
const GW: Record<string, string> = { alpha: '127.0.0.5', beta: '127.0.0.6', gamma: '127.0.0.7', delta: '127.0.0.8' };
const CALLER = '+14155550100';

let server: RunningTrunkline;
let port: number;
let apiPort: number;
const gwPort: Record<string, number> = {};
const dir = mkdtempSync(join(tmpdir(), 'trunkline-lcr-'));

async function cli(args: string[], input?: string): Promise<string> {
  const r = await runCli([...args, '--config', server.configFile], input === undefined ? {} : { input });
  assert.equal(r.code, 0, `trunkline ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Writes a deck and imports it for `carrier`. */
async function deck(carrier: string, csv: string, replace = false): Promise<void> {
  const file = join(dir, `${carrier}-${Date.now()}.csv`);
  writeFileSync(file, csv);
  await cli(['rate', 'import', carrier, file, ...(replace ? ['--replace'] : [])]);
}

interface CdrJson {
  callSid: string;
  carrier: string | null;
  to: string;
  status: number;
  duration: number;
  cost: string | null;
  rate: string | null;
  ratePrefix: string | null;
  billed: number | null;
  aCallId: string | null;
  bCallId: string | null;
  ringMs: number | null;
  durationMs: number | null;
}

/** The outbound CDRs to `to` (newest first), once there are `n`, within 5 s. */
async function cdrsTo(to: string, n = 1): Promise<CdrJson[]> {
  let rows: CdrJson[] = [];
  for (const end = Date.now() + 5000; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    rows = (JSON.parse(await cli(['cdr', 'list', '--json', '--limit', '1000'])) as CdrJson[]).filter(
      (c) => c.to === to,
    );
    if (rows.length >= n) break;
  }
  return rows;
}

/** A call from the PBX to `number` that must be answered, held `holdMs`. */
async function call(number: string, holdMs = 0, calls = 1, rate = 10): Promise<void> {
  const scn = scenarioWith('trunk-uac-call.xml', {
    caller: CALLER,
    hidden: 'X-Call-Sid|X-Leg-Sid|X-Trunk-Sid',
    hiddenAddr: 'xx-none',
    hold: String(holdMs),
  });
  const r = await sipp({
    scenario: scn,
    target: `127.0.0.1:${port}`,
    ip: PBX,
    localPort: await freePort(),
    calls,
    rate,
    timeoutS: 30,
    extra: ['-s', number],
  });
  assert.equal(r.code, 0, `call to ${number}:\n${r.stdout.slice(-2500)}\nserver:\n${server.output().slice(-6000)}`);
}

/** A call from the PBX to `number` that must be refused with `status`. */
async function refused(number: string, status: number): Promise<void> {
  const r = await sipp({
    scenario: scenarioWith('trunk-uac-expect.xml', { caller: CALLER, expect: String(status) }),
    target: `127.0.0.1:${port}`,
    ip: PBX,
    localPort: await freePort(),
    timeoutS: 20,
    extra: ['-s', number],
  });
  assert.equal(r.code, 0, `call to ${number} expecting ${status}:\n${r.stdout.slice(-2500)}`);
}

/** A carrier gateway answering `calls` calls (INVITE must match `must`). */
function answering(carrier: string, calls = 1, must = 'INVITE', extra: string[] = []): BackgroundSipp {
  return sippBackground(
    scenarioWith('trunk-uas-expect.xml', { must, hidden: 'xx-none', hiddenAddr: 'xx-none' }),
    gwPort[carrier]!,
    {
      ip: GW[carrier]!,
      calls,
      timeoutS: 40,
      extra,
    },
  );
}

function refusing(carrier: string, scenarioName: 'uas-unavailable.xml' | 'uas-busy.xml'): BackgroundSipp {
  return sippBackground(scenarioWith(scenarioName, {}), gwPort[carrier]!, { ip: GW[carrier]!, timeoutS: 20 });
}

async function done(b: BackgroundSipp, what: string): Promise<void> {
  const r = await b.done;
  assert.equal(
    r.code,
    0,
    `${what}:\n${r.stdout.slice(-2500)}\n${r.stderr.slice(-1000)}\nserver:\n${server.output().slice(-6000)}`,
  );
}

before(async () => {
  if (skip !== false) return;
  [port, apiPort] = await Promise.all([freePort(), freePort()]);
  for (const c of Object.keys(GW)) gwPort[c] = await freePort();
  server = await startTrunkline(
    [
      `listen: [udp:127.0.0.1:${port}]`,
      `api: {listen: "127.0.0.1:${apiPort}"}`,
      'sip: {timers: {t1: 100, t2: 4000, t4: 5000}}',
      'trunking: {gatewayTimeout: 3, ping: {interval: 0}}',
      '',
    ].join('\n'),
  );
  await cli(['account', 'add', 'acme']);
  await cli(['trunk', 'add', 'pbx', '--account', 'acme', '--ip', `${PBX}/32`]);
  await cli(['did', 'add', CALLER, '--trunk', 'pbx']);
  for (const c of Object.keys(GW)) await cli(['carrier', 'add', c, '--gateway', `sip:${GW[c]}:${gwPort[c]}`]);
  // Listed dearest first, delta (no rates) first of all: the order must come from the rates.
  await cli(['route', 'add', '+44', '--carrier', 'delta,alpha,gamma,beta', '--mode', 'lcr']);
  await deck('alpha', 'prefix,rate\n44,0.03\n');
  await deck('beta', 'prefix,rate,increment\n44,0.02,60/60\n4420,0.01,60/60\n');
  await deck('gamma', 'prefix,rate\n+44,0.015\n');
  // The server sees the routes within 2 s (it polls every second); rates are read per call.
  await new Promise((r) => setTimeout(r, 2200));
});

after(async () => {
  if (skip !== false) return;
  assert.equal(await server.stop(), 0);
});

test('lcr: the cheapest carrier for the number takes the call (longest prefix of its deck)', { skip }, async () => {
  const beta = answering('beta', 1, 'INVITE sip:\\+442071230001@');
  await call('+442071230001');
  await done(beta, 'beta (0.01 for +4420)');
  // +4430: beta's +44 is 0.02, gamma's 0.015: gamma.
  const gamma = answering('gamma', 1, 'INVITE sip:\\+443071230001@');
  await call('+443071230001');
  await done(gamma, 'gamma (0.015 for +44)');
  const [b] = await cdrsTo('+442071230001');
  const [g] = await cdrsTo('+443071230001');
  assert.deepEqual([b!.carrier, b!.status, b!.ratePrefix, b!.rate], ['beta', 200, '+4420', '0.01']);
  assert.deepEqual([g!.carrier, g!.status, g!.ratePrefix, g!.rate], ['gamma', 200, '+44', '0.015']);
});

test('lcr: a 503 from the cheapest moves the call to the next cheapest', { skip }, async () => {
  const beta = refusing('beta', 'uas-unavailable.xml');
  const gamma = answering('gamma', 1, 'INVITE sip:\\+442071230002@');
  await call('+442071230002');
  await done(beta, 'beta answering 503');
  await done(gamma, 'gamma, the next cheapest');
  const [c] = await cdrsTo('+442071230002');
  assert.deepEqual([c!.carrier, c!.status, c!.rate], ['gamma', 200, '0.015']);
});

test('lcr: a 486 from the cheapest ends the call: no other carrier is tried', { skip }, async () => {
  const beta = refusing('beta', 'uas-busy.xml');
  // Were gamma tried, it would answer and the caller get a 200, not the 486 it must get.
  const gamma = answering('gamma');
  await refused('+442071230003', 486);
  await done(beta, 'beta answering 486');
  await gamma.stop();
  const [c] = await cdrsTo('+442071230003');
  assert.deepEqual([c!.carrier, c!.status, c!.cost], ['beta', 486, null]);
});

test('a new deck reorders the next call at once', { skip }, async () => {
  await deck('alpha', 'prefix,rate\n44,0.005\n', true);
  const alpha = answering('alpha', 1, 'INVITE sip:\\+442071230004@');
  await call('+442071230004');
  await done(alpha, 'alpha, now the cheapest');
  await deck('alpha', 'prefix,rate\n44,0.03\n', true);
});

test(
  "CDR cost: rate x seconds billed by the deck's increments (30/6, 60/60, 1/1), plus the fee",
  { skip },
  async () => {
    await cli(['route', 'add', '+331', '--carrier', 'alpha', '--mode', 'lcr']);
    await cli(['route', 'add', '+332', '--carrier', 'beta', '--mode', 'lcr']);
    await cli(['route', 'add', '+333', '--carrier', 'gamma', '--mode', 'lcr']);
    await deck('alpha', 'prefix,rate,increment,fee\n331,0.06,30/6,0.01\n');
    await deck('beta', 'prefix,rate,increment\n332,0.06,60/60\n');
    await deck('gamma', 'prefix,rate,increment\n333,0.06,1/1\n');
    await new Promise((r) => setTimeout(r, 2200));
    const uas = [answering('alpha'), answering('beta'), answering('gamma')];
    // Three calls of about 7 s at once (the CDR's duration is whole seconds).
    await Promise.all([call('+33112345678', 6800), call('+33212345678', 6800), call('+33312345678', 6800)]);
    for (const u of uas) await done(u, 'carrier answering a 7 s call');
    const [a] = await cdrsTo('+33112345678');
    const [b] = await cdrsTo('+33212345678');
    const [g] = await cdrsTo('+33312345678');
    for (const c of [a!, b!, g!]) {
      assert.ok(c.duration >= 6 && c.duration <= 8, `duration ${c.duration}`);
      // For billing: both legs' Call-IDs (SIPp's own, N-PID@host; ours), ring and answered time in ms.
      assert.match(String(c.aCallId), /^\d+-\d+@127\.0\.0\.\d+$/);
      assert.ok(typeof c.bCallId === 'string' && c.bCallId !== c.aCallId, `bCallId ${c.bCallId}`);
      assert.ok(typeof c.ringMs === 'number' && c.ringMs >= 0 && c.ringMs < 5000, `ringMs ${c.ringMs}`);
      assert.equal(Math.round(c.durationMs! / 1000), c.duration, `durationMs ${c.durationMs}`);
    }
    // 30/6: a 6-8 s call bills the first 30 s: 0.06 x 30 / 60 = 0.03, plus the fee 0.01.
    assert.deepEqual([a!.carrier, a!.billed, a!.cost, a!.rate, a!.ratePrefix], ['alpha', 30, '0.04', '0.06', '+331']);
    // 60/60: 60 s billed: 0.06.
    assert.deepEqual([b!.carrier, b!.billed, b!.cost], ['beta', 60, '0.06']);
    // 1/1: the seconds it lasted: 0.001 a second.
    assert.deepEqual([g!.carrier, g!.billed, g!.cost], ['gamma', g!.duration, `0.00${g!.duration}`]);
    // The table shows the cost too.
    assert.match(await cli(['cdr', 'list', '--limit', '3']), /COST/);
  },
);

test('weighted: calls spread by weight (3:1), each carrier taking some', { skip }, async () => {
  await cli(['route', 'add', '+49', '--carrier', 'alpha:3,beta:1', '--mode', 'weighted']);
  await new Promise((r) => setTimeout(r, 2200));
  const alpha = answering('alpha', 1000);
  const beta = answering('beta', 1000);
  await call('+4930123456', 0, 40, 20);
  // Their last calls' BYEs may still be on the way: killed now, the gateways would leave those BYEs to be
  // retransmitted to the next test's SIPp on the same ports.
  await alpha.finish();
  await beta.finish();
  const rows = await cdrsTo('+4930123456', 40);
  assert.equal(rows.length, 40);
  const n = (c: string) => rows.filter((r) => r.carrier === c && r.status === 200).length;
  assert.equal(n('alpha') + n('beta'), 40);
  // Expected 30:10; this fails by chance about once in 2000 runs.
  assert.ok(n('alpha') > n('beta') && n('beta') >= 1, `alpha ${n('alpha')}, beta ${n('beta')}`);
});

test('a 200,000-row import while calls go on: the server stays responsive', { skip }, async (t) => {
  const lines = ['prefix,rate,increment'];
  // +44300000 to +44499999: none is a prefix of the number called, so before
  // the swap (the old deck's +4420 at 0.01) and after it (+4420 at 0.009)
  // beta is the cheapest for it, whenever the import ends.
  for (let i = 0; i < 200_000; i++) lines.push(`${44_300_000 + i},0.0${String(1000 + (i % 8999))},60/60`);
  lines.push('4420,0.009,60/60');
  const file = join(dir, 'big.csv');
  writeFileSync(file, `${lines.join('\n')}\n`);
  const importing = runCli(['rate', 'import', 'beta', file, '--replace', '--config', server.configFile]);
  // The API's /healthz every 20 ms and calls through lcr while it imports.
  let worst = 0;
  let polls = 0;
  let importDone = false;
  const polling = (async () => {
    while (!importDone) {
      const t0 = performance.now();
      const r = await fetch(`http://127.0.0.1:${apiPort}/healthz`);
      assert.equal(r.status, 200);
      worst = Math.max(worst, performance.now() - t0);
      polls++;
      await new Promise((res) => setTimeout(res, 20));
    }
  })();
  const betaErrors = join(dir, 'beta-errors.log');
  const beta = answering('beta', 3, 'INVITE', ['-trace_err', '-error_file', betaErrors]);
  try {
    await call('+442071239999', 0, 3, 2);
  } catch (err) {
    importDone = true; // the polling stops with the test
    // Whether the server's event loop stalled (a late API answer too) or only the peers were slow, and what
    // beta's SIPp saw (a message it did not expect counts as a call of its -m 3). A new error: the runner
    // prints an AssertionError's stack, made before its message could be added to.
    const b = await beta.stop();
    const errors = existsSync(betaErrors) ? readFileSync(betaErrors, 'utf8').slice(-3000) : 'none';
    throw new Error(
      `${(err as Error).message}\n/healthz meanwhile: ${polls} polls, worst ${Math.round(worst)} ms` +
        `\nbeta's SIPp (exit ${b.code}), its errors: ${errors}`,
      { cause: err },
    );
  }
  const r = await importing;
  importDone = true;
  await polling;
  assert.equal(r.code, 0, r.stderr);
  await done(beta, 'beta during the import');
  assert.match(r.stdout, /^imported 200001 rates for carrier beta/);
  assert.ok(worst < 1000, `the API answered within ${Math.round(worst)} ms at worst`);
  t.diagnostic(`import: ${r.stdout.trim()}; /healthz ${polls} polls, worst ${Math.round(worst)} ms`);
  const during = await cdrsTo('+442071239999', 3);
  assert.deepEqual(
    during.map((c) => [c.carrier, c.status]),
    [0, 1, 2].map(() => ['beta', 200]),
  );
  // The next call is priced by the new deck.
  const next = answering('beta', 1);
  await call('+442071239999');
  await done(next, 'beta after the import');
  const [c] = await cdrsTo('+442071239999', 4);
  assert.deepEqual([c!.carrier, c!.ratePrefix, c!.rate], ['beta', '+4420', '0.009']);
});
