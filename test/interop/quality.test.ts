/**
 * Carrier quality with real SIPp carriers on loopback (127.0.0.2 the PBX,
 * 127.0.0.5 carrier `flaky`, 127.0.0.6 carrier `steady`), a priority route
 * flaky then steady, `routing.quality` judging ASR after 3 attempts with a
 * 10 s cool-down (long enough for the checks while it lasts):
 *
 * - flaky answers 503 three times: each call fails over to steady; flaky
 *   is then demoted (logged once), and `route explain` (CLI, through the
 *   running server's control socket, and API) puts it last with its
 *   figures and "demoted until ...";
 * - the next call goes to steady first though flaky would answer;
 * - GET /api/v1/quality and /metrics show the figures; the CDRs carry the
 *   gateway, the PDD, the Q.850 cause;
 * - after the cool-down (logged) flaky takes the next call again;
 * - the console's Quality page (headless chromium) shows a third carrier,
 *   `sad`, demoted as it happens, with the figures the API has, and the
 *   carriers' ASR chart.
 *
 * With TRUNKLINE_SCREENSHOTS=DIR the page is saved as console-quality.png.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { haveCommand, sipp, sippBackground, scenarioWith, type BackgroundSipp } from '../helpers/sipp.js';
import { run as runCli } from '../cli/helpers.js';
import { browserSkip, openConsole } from '../api/chromium.js';

// The functions handed to the page run in the browser; the root tsconfig has no DOM types.
declare const document: any;

const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';

const PBX = '127.0.0.2';
const GW = { flaky: '127.0.0.5', steady: '127.0.0.6', sad: '127.0.0.7' } as const;
type Name = keyof typeof GW;
const CALLER = '+14155550100';
const COOL_DOWN_S = 10;

let server: RunningTrunkline;
let port: number;
let apiPort: number;
let token: string;
const gwPort: Record<string, number> = {};

async function cli(args: string[]): Promise<string> {
  const r = await runCli([...args, '--config', server.configFile]);
  assert.equal(r.code, 0, `trunkline ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function api(path: string): Promise<any> {
  const r = await fetch(`http://127.0.0.1:${apiPort}${path}`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200, path);
  return r.json();
}

/** `calls` calls from the PBX to `number`, each answered. */
async function call(number: string, calls = 1): Promise<void> {
  const scn = scenarioWith('trunk-uac-call.xml', {
    caller: CALLER,
    hidden: 'X-Call-Sid|X-Leg-Sid|X-Trunk-Sid',
    hiddenAddr: 'xx-none',
    hold: '0',
  });
  const r = await sipp({
    scenario: scn,
    target: `127.0.0.1:${port}`,
    ip: PBX,
    localPort: await freePort(),
    calls,
    rate: 10,
    timeoutS: 20,
    extra: ['-s', number],
  });
  assert.equal(r.code, 0, `call to ${number}:\n${r.stdout.slice(-2500)}\nserver:\n${server.output().slice(-3000)}`);
}

function answering(c: Name, calls = 1): BackgroundSipp {
  const scn = scenarioWith('trunk-uas-expect.xml', { must: 'INVITE', hidden: 'xx-none', hiddenAddr: 'xx-none' });
  return sippBackground(scn, gwPort[c]!, { ip: GW[c], calls, timeoutS: 20 });
}

function unavailable(c: Name, calls: number): BackgroundSipp {
  return sippBackground(scenarioWith('uas-unavailable.xml', {}), gwPort[c]!, { ip: GW[c], calls, timeoutS: 20 });
}

async function done(b: BackgroundSipp, what: string): Promise<void> {
  const r = await b.done;
  assert.equal(r.code, 0, `${what}:\n${r.stdout.slice(-2500)}\n${r.stderr.slice(-1000)}`);
}

interface CdrJson {
  to: string;
  carrier: string | null;
  gateway: string | null;
  status: number;
  pddMs: number | null;
  q850: number | null;
}

async function cdrTo(to: string): Promise<CdrJson> {
  for (const end = Date.now() + 5000; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    const row = (JSON.parse(await cli(['cdr', 'list', '--json'])) as CdrJson[]).find((c) => c.to === to);
    if (row !== undefined) return row;
  }
  throw new Error(`no CDR to ${to}`);
}

const count = (text: string, msg: string): number => text.split(`"msg":"${msg}"`).length - 1;

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
      `routing: {quality: {minCalls: 3, minAsr: 50, coolDown: ${COOL_DOWN_S}}}`,
      '',
    ].join('\n'),
  );
  token = (await cli(['token', 'add', 'ops', '--role', 'admin'])).trim().split(/\s+/).at(-1)!;
  await cli(['account', 'add', 'acme']);
  await cli(['trunk', 'add', 'pbx', '--account', 'acme', '--ip', `${PBX}/32`]);
  await cli(['did', 'add', CALLER, '--trunk', 'pbx']);
  for (const c of Object.keys(GW) as Name[]) await cli(['carrier', 'add', c, '--gateway', `sip:${GW[c]}:${gwPort[c]}`]);
  await cli(['route', 'add', '+44', '--carrier', 'flaky,steady']);
  await cli(['route', 'add', '+33', '--carrier', 'sad,steady']);
  await new Promise((r) => setTimeout(r, 2200));
});

after(async () => {
  if (skip !== false) return;
  assert.equal(await server.stop(), 0);
});

test(
  'a carrier that keeps failing is demoted, explained, passed over, and back after its cool-down',
  { skip },
  async () => {
    // Three calls: flaky 503s each, steady takes them.
    const flaky = unavailable('flaky', 3);
    const steady = answering('steady', 3);
    await call('+442071230001', 3);
    await done(flaky, 'flaky answering 503');
    await done(steady, 'steady after each 503');
    assert.equal(count(server.output(), 'carrier demoted'), 1, 'logged once');
    const demotedAt = Date.now();
    assert.match(server.output(), /"carrier":"flaky".*"why":"ASR 0% below 50%".*"msg":"carrier demoted"/);

    // route explain, CLI (the running server's figures) and API: flaky last, its figures, until when.
    const ex = JSON.parse(await cli(['route', 'explain', '+442071230002', '--from', 'pbx', '--json']));
    assert.deepEqual(
      ex.carriers.map((c: { name: string }) => c.name),
      ['steady', 'flaky'],
    );
    assert.match(ex.carriers[1].why, /demoted until \S+Z \(ASR 0% below 50%\): tried after the others/);
    assert.equal(ex.carriers[1].quality.asr, 0);
    assert.equal(ex.carriers[1].quality.attempts, 3);
    assert.equal(ex.carriers[0].quality.asr, 100);
    const text = await cli(['route', 'explain', '+442071230002', '--from', 'pbx']);
    assert.match(text, /1\. steady .*ASR 100% NER 100%.*2\. flaky .*demoted until/);
    const apiEx = await api(`/api/v1/route/explain?number=%2B442071230002&from=pbx`);
    assert.deepEqual(
      apiEx.carriers.map((c: { name: string }) => c.name),
      ['steady', 'flaky'],
    );

    // The next call: steady first, though flaky would answer now.
    const flakyUp = answering('flaky');
    const steady2 = answering('steady');
    await call('+442071230002');
    await done(steady2, 'steady, first while flaky is demoted');
    const c2 = await cdrTo('+442071230002');
    assert.deepEqual(
      [c2.carrier, c2.gateway, c2.status, c2.q850],
      ['steady', `sip:${GW.steady}:${gwPort.steady}`, 200, 16],
    );
    assert.ok(c2.pddMs !== null && c2.pddMs >= 0 && c2.pddMs < 2000, `pdd ${c2.pddMs}`);

    // The API and the metrics.
    const q = await api('/api/v1/quality');
    const flakyQ = q.carriers.find((c: { carrier: string }) => c.carrier === 'flaky');
    assert.deepEqual([flakyQ.attempts, flakyQ.asr, flakyQ.ner], [3, 0, 0]);
    assert.ok(flakyQ.demotedUntil !== null && flakyQ.demotedFor === 'ASR 0% below 50%');
    const one = await api('/api/v1/carriers/steady/quality');
    assert.deepEqual([one.quality.attempts, one.quality.asr, one.gateways.length], [4, 100, 1]);
    const metrics = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
    assert.match(metrics, /trunkline_carrier_demoted\{carrier="flaky"\} 1/);
    assert.match(metrics, /trunkline_carrier_asr\{carrier="steady"\} 100/);
    assert.match(metrics, /trunkline_gateway_ner\{carrier="flaky",gateway="sip:127\.0\.0\.5:\d+"\} 0/);

    // After the cool-down flaky is back: first again.
    await new Promise((r) => setTimeout(r, Math.max(0, demotedAt + COOL_DOWN_S * 1000 + 300 - Date.now())));
    await call('+442071230003');
    await done(flakyUp, 'flaky, back after its cool-down');
    assert.equal((await cdrTo('+442071230003')).carrier, 'flaky');
    assert.equal(count(server.output(), 'carrier demotion ended'), 1);
  },
);

test(
  'console Quality page: a carrier demoted as it happens, figures as the API has them, the ASR chart',
  { skip: skip || browserSkip() },
  async () => {
    const c = await openConsole(`http://127.0.0.1:${apiPort}/`);
    try {
      const { page } = c;
      await page.waitForFunction(() => document.body.dataset.ready === 'login');
      await page.fill('#token', token);
      await page.click('#login-form button[type=submit]');
      await page.waitForFunction(() => document.body.dataset.ready === 'dashboard');
      await page.click('#nav a[data-page=quality]');
      await page.waitForFunction(() => document.body.dataset.ready === 'quality');
      const sad = unavailable('sad', 3);
      const steady = answering('steady', 3);
      await call('+33123456789', 3);
      await done(sad, 'sad answering 503');
      await done(steady, 'steady after each 503');
      // The page polls every 2 s: sad's carrier row turns demoted.
      await page.waitForFunction(
        () => /demoted until/.test(document.querySelector('#quality-table tr[data-key="sad *"]')?.textContent ?? ''),
        undefined,
        { timeout: 8000 },
      );
      const rows: Array<Record<string, string>> = await page.evaluate(() => {
        const heads = [...document.querySelectorAll('#quality-table thead th')].map((th: any) => th.textContent);
        return [...document.querySelectorAll('#quality-table tbody tr')].map((tr: any) =>
          Object.fromEntries([...tr.querySelectorAll('td')].map((td: any, i: number) => [heads[i], td.textContent])),
        );
      });
      const q = await api('/api/v1/quality');
      const sadApi = q.carriers.find((x: { carrier: string }) => x.carrier === 'sad');
      const sadRow = rows.find((r) => r['Carrier'] === 'sad' && r['Gateway'] === 'all')!;
      assert.deepEqual(
        [sadRow['Attempts'], sadRow['ASR %'], sadRow['NER %'], sadRow['Why']],
        [String(sadApi.attempts), String(sadApi.asr), String(sadApi.ner), 'ASR 0% below 50%'],
      );
      assert.equal(rows.length, q.carriers.length + q.gateways.length, 'a row per carrier and per gateway');
      assert.equal(await page.textContent('#fig-quality-demoted b'), '1');
      // The chart: a series per carrier (uPlot's data is [times, ...series]).
      const series = await page.evaluate(() => (document.querySelector('#quality-chart') as any).uplot.data.length);
      assert.equal(series, 1 + q.carriers.length);
      await c.shot('quality');
      assert.deepEqual(c.errors, []);
    } finally {
      await c.close();
    }
  },
);
