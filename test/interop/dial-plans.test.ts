/**
 * Dial plans and emergency calls with real SIPp peers on loopback: a PBX
 * trunk (127.0.0.2, dial plan UK, 1 call per minute, 1 call at a time), a
 * trunk without a dial plan (127.0.0.3), and two SIPp carriers: `natl`
 * (127.0.0.5, dial plan IN in its national form) for `+`, and `sos`
 * (127.0.0.6) for the `emergency` route. Set up with the CLI before the
 * server starts (it reads the same store), the calls side by side:
 *
 * - a national-format callee and caller from the PBX (UK: 0...) reach the
 *   carrier in the carrier's form (IN national: 022..., the caller with the
 *   international prefix), and the call holds the trunk's one place; the
 *   other way, natl's call to a DID of a trunk with a UK national plan
 *   (127.0.0.4) reaches it as 020... from 0091...;
 * - meanwhile the PBX's next call is refused 503 (its limits), one with a
 *   caller ID it does not own 403, and its emergency call 999 with that
 *   same caller ID passes to `sos` as 999 (not +999); 112 from the trunk
 *   without a dial plan passes the same way (not +112), and its national
 *   number is refused 484;
 * - the CDRs keep the numbers as received and as normalized, and flag the
 *   emergency calls; the log says so;
 * - `route explain` says what each live call met.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { haveCommand, sipp, sippBackground, scenarioWith, type BackgroundSipp } from '../helpers/sipp.js';
import { run as runCli } from '../cli/helpers.js';

const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';

const PBX = '127.0.0.2';
const BARE = '127.0.0.3';
const OFFICE = '127.0.0.4';
const NATL = '127.0.0.5';
const SOS = '127.0.0.6';
const STRANGER = '+15550001111';

let server: RunningTrunkline;
let port: number;
let natlPort: number;
let sosPort: number;
let officePort: number;
const dir = mkdtempSync(join(tmpdir(), 'trunkline-dialplan-'));
const db = `sqlite:${join(dir, 'trunkline.db')}`;
const setupConfig = join(dir, 'setup.yaml');

async function cli(args: string[], config = server.configFile): Promise<string> {
  const r = await runCli([...args, '--config', config]);
  assert.equal(r.code, 0, `trunkline ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A call from `ip` (caller `caller`) to `number` that must be answered, held `holdMs`. */
async function call(ip: string, caller: string, number: string, holdMs = 0): Promise<void> {
  const scn = scenarioWith('trunk-uac-call.xml', {
    caller,
    hidden: 'xx-none',
    hiddenAddr: 'xx-none',
    hold: String(holdMs),
  });
  const r = await sipp({
    scenario: scn,
    target: `127.0.0.1:${port}`,
    ip,
    localPort: await freePort(),
    timeoutS: 20,
    extra: ['-s', number],
  });
  assert.equal(r.code, 0, `call to ${number}:\n${r.stdout.slice(-2500)}\nserver:\n${server.output().slice(-3000)}`);
}

/** A call from `ip` that must be refused with `status`. */
async function refused(ip: string, caller: string, number: string, status: number): Promise<void> {
  const scn = scenarioWith('trunk-uac-expect.xml', { caller, expect: String(status) });
  const r = await sipp({
    scenario: scn,
    target: `127.0.0.1:${port}`,
    ip,
    localPort: await freePort(),
    timeoutS: 20,
    extra: ['-s', number],
  });
  assert.equal(r.code, 0, `call to ${number} expecting ${status}:\n${r.stdout.slice(-2500)}`);
}

/** A carrier gateway answering `calls` calls whose Request-URI and From match `ruri` and `from` (POSIX regular expressions, XML-escaped). */
function carrier(ip: string, gwPort: number, ruri: string, from: string, calls = 1): BackgroundSipp {
  const scn = scenarioWith('trunk-uas-numbers.xml', { ruri, from });
  return sippBackground(scn, gwPort, { ip, calls, timeoutS: 30 });
}

async function done(b: BackgroundSipp, what: string): Promise<void> {
  const r = await b.done;
  assert.equal(r.code, 0, `${what}:\n${r.stdout.slice(-2500)}\n${r.stderr.slice(-1000)}`);
}

before(async () => {
  if (skip !== false) return;
  [port, natlPort, sosPort, officePort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  // The store set up with the CLI first; the server then starts on it (no reload to wait for).
  writeFileSync(setupConfig, `data: ${JSON.stringify(dir)}\ndatabase: ${JSON.stringify(db)}\n`);
  const setup = (args: string[]) => cli(args, setupConfig);
  await Promise.all([
    setup(['account', 'add', 'acme']),
    setup(['dialplan', 'add', 'UK', '--country', '44']),
    setup(['dialplan', 'add', 'IN', '--country', '91', '--format', 'national']),
    setup(['dialplan', 'add', 'UKN', '--country', '44', '--format', 'national']),
  ]);
  await Promise.all([
    setup([
      'trunk',
      'add',
      'pbx',
      '--account',
      'acme',
      '--ip',
      PBX,
      '--dial-plan',
      'UK',
      '--cpm',
      '1',
      '--max-calls',
      '1',
    ]),
    setup(['trunk', 'add', 'bare', '--account', 'acme', '--ip', BARE]),
    setup([
      'trunk',
      'add',
      'office',
      '--account',
      'acme',
      '--ip',
      OFFICE,
      '--dest',
      `sip:${OFFICE}:${officePort}`,
      '--dial-plan',
      'UKN',
    ]),
    setup(['carrier', 'add', 'natl', '--gateway', `sip:${NATL}:${natlPort}`, '--dial-plan', 'IN']),
    setup(['carrier', 'add', 'sos', '--gateway', `sip:${SOS}:${sosPort}`]),
  ]);
  await Promise.all([
    setup(['did', 'add', '+442079460001', '--trunk', 'pbx']),
    setup(['did', 'add', '+442079460009', '--trunk', 'office']),
    setup(['route', 'add', '+', '--carrier', 'natl']),
    setup(['route', 'add', 'emergency', '--carrier', 'sos']),
  ]);
  server = await startTrunkline(
    [
      `listen: [udp:127.0.0.1:${port}]`,
      `database: ${JSON.stringify(db)}`,
      'sip: {timers: {t1: 100, t2: 4000, t4: 5000}}',
      'trunking: {gatewayTimeout: 3, ping: {interval: 0}}',
      '',
    ].join('\n'),
  );
});

after(async () => {
  if (skip !== false) return;
  assert.equal(await server.stop(), 0);
  rmSync(dir, { recursive: true, force: true });
});

interface CdrJson {
  trunk: string;
  carrier: string | null;
  from: string;
  to: string;
  fromReceived: string | null;
  toReceived: string | null;
  emergency: boolean;
  status: number;
}

test(
  'national forms normalized and sent in the carrier form; emergency calls pass limits, caller ID and routes',
  { skip },
  async () => {
    // natl: the IN number in its national form, the UK caller with the international prefix.
    const natl = carrier(NATL, natlPort, 'sip:02240001234@', '&lt;sip:00442079460001@');
    // sos: the emergency numbers as dialled, the caller ID the trunk does not own kept.
    const sos = carrier(SOS, sosPort, 'sip:(999|112)@', `&lt;sip:\\${STRANGER}@`, 2);
    // The other way: natl's call to a DID of office, both numbers in the forms of office's plan (UK, national).
    const office = carrier(OFFICE, officePort, 'sip:02079460009@', '&lt;sip:00912240001234@');
    const held = call(PBX, '02079460001', '00912240001234', 1500);
    // The held call takes the trunk's one place (and its one call of the minute).
    for (let i = 0; i < 100; i++) {
      if ((JSON.parse(await cli(['calls', '--json'])) as unknown[]).length > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await Promise.all([
      refused(PBX, '02079460001', '02079460002', 503),
      refused(PBX, STRANGER, '02079460002', 403),
      call(PBX, STRANGER, '999'),
      call(BARE, STRANGER, '112'),
      refused(BARE, STRANGER, '02079460000', 403),
      refused(BARE, '+442079460001', '02079460000', 484),
      call(NATL, '02240001234', '00442079460009'),
    ]);
    // route explain: what the live calls met.
    const explain = async (n: string, from: string) =>
      JSON.parse(await cli(['route', 'explain', n, '--from', from, '--json'])) as Record<string, any>;
    // Asked while the held call goes on (explain reads the store, not the calls).
    const explained = Promise.all([
      explain('00912240001234', 'pbx'),
      explain('999', 'pbx'),
      explain('112', 'bare'),
      explain('02079460000', 'bare'),
    ]);
    await held;
    await Promise.all([
      done(natl, 'natl (national form)'),
      done(sos, 'sos (999 and 112)'),
      done(office, "office (its plan's national form)"),
    ]);

    const cdrs = JSON.parse(await cli(['cdr', 'list', '--json'])) as CdrJson[];
    const by = (to: string, status: number) => cdrs.find((c) => c.toReceived === to && c.status === status);
    const answered = by('00912240001234', 200)!;
    assert.deepEqual(
      [answered.from, answered.fromReceived, answered.to, answered.toReceived, answered.emergency, answered.carrier],
      ['+442079460001', '02079460001', '+912240001234', '00912240001234', false, 'natl'],
    );
    const inbound = by('00442079460009', 200)!;
    assert.deepEqual(
      [inbound.from, inbound.fromReceived, inbound.to, inbound.trunk, inbound.carrier],
      ['+912240001234', '02240001234', '+442079460009', 'office', 'natl'],
    );
    for (const [n, trunk] of [
      ['999', 'pbx'],
      ['112', 'bare'],
    ]) {
      const e = by(n, 200);
      assert.deepEqual(
        [e?.to, e?.from, e?.fromReceived, e?.emergency, e?.carrier, e?.trunk],
        [n, STRANGER, STRANGER, true, 'sos', trunk],
        `the CDR of ${n}`,
      );
    }
    assert.ok(
      cdrs.some((c) => c.trunk === 'pbx' && c.status === 503),
      'the limit refused the next call',
    );
    assert.match(server.output(), /"trunk":"pbx"[^\n]*"number":"999"[^\n]*"msg":"emergency call"/);
    assert.match(server.output(), /"emergency":true,"to":"999"[^\n]*"msg":"emergency call ended"/);

    const [intl, e999, e112, national] = await explained;
    assert.deepEqual(
      [intl['number'], intl['carriers'][0].name, intl['carriers'][0].sends],
      ['+912240001234', 'natl', '02240001234'],
    );
    for (const e of [e999, e112]) {
      assert.deepEqual(
        [e['emergency'], e['route'], e['carriers'][0].name, e['refused']],
        [true, 'emergency', 'sos', null],
      );
      assert.equal(e['carriers'][0].sends, e['dialled']);
    }
    assert.match(national['refused'], /^484: Address Incomplete/);
  },
);
