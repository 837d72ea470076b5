/**
 * The web console (the Vite build in dist/web) in headless Debian chromium
 * driven by playwright-core, against a running server:
 *
 * 1. registrar side: a wrong token refused, log in with a token made by the
 *    CLI, add a domain and a subscriber through the pages (the store has
 *    them, the password shows nowhere), a SIPp registration arrives live on
 *    the dashboard (SSE), the API's 409 shown when removing a domain that
 *    still has a subscriber, a ban added and lifted on the bans page.
 * 2. trunk side: add a trunk and a DID through the pages
 *    (and a bad trunk: the API's 400 naming the field), edit an account
 *    (PATCH), a real SIPp call carrier -> DID -> PBX appears live on the
 *    calls page and on the dashboard (its chart counts it), is hung up from
 *    the page once the confirmation is accepted (dismissed, the call stays;
 *    accepted, both SIPps see the BYE; the CDR says the operator hung up),
 *    found by the CDR search and exported as CSV, and its ladder shows both
 *    legs with Trunkline between the carrier and the PBX.
 * 3. edits and failures: the trunk (CPM 2, max calls 3) and the carrier
 *    (credentials) edited through the pages (PATCH; the API has the new
 *    values), then four SIPp calls: one answered, one the PBX answers 486
 *    (a failed CDR), one over the CPM (503) and one to no DID (404), refused
 *    before any leg (counted in trunkline_calls_refused_total by cause, and a
 *    CDR each saying why), and an INVITE from a stranger (403, counted as
 *    cause unknown-source, listed with its address, no CDR).
 *    The dashboard's failed figure, its two charts (uPlot's own data) and
 *    the refused-calls card show exactly those; the event feed marks only
 *    the failed call's end; a CDR filter exported without a search is
 *    applied to the table too (CSV and table agree).
 * 4. a CDR from before a restart (in the store, its SIP messages gone with
 *    the old process): its Ladder says the messages are no longer kept, no
 *    error box.
 *
 * With TRUNKLINE_SCREENSHOTS=DIR each page is saved there as PNG.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { freePort } from '../helpers/ports.js';
import { CLI, startTrunkline } from '../helpers/server.js';
import { run, scenario, scenarioWith, sipp, sippBackground } from '../helpers/sipp.js';
import { browserSkip, openConsole, type ConsolePage } from './chromium.js';
import { CALLER, CARRIER, DID, PBX, startCallServer } from './call-fixture.js';
import { openStore } from '../../src/store/db.js';

// The functions handed to the page run in the browser; the root tsconfig has no DOM types.
declare const document: any;

const skip = browserSkip();
const DOMAIN = 'console.example';
const BANNED = '192.0.2.77';

/** Text of a selector, '' when absent. */
const text = (c: ConsolePage, sel: string): Promise<string> =>
  c.page
    .locator(sel)
    .first()
    .textContent({ timeout: 5000 })
    .then((t) => t ?? '');

test(
  'console in headless chromium: log in, a domain and a subscriber, a SIPp registration live on the dashboard, a 409 shown, a ban lifted',
  { skip, timeout: 120_000 },
  async () => {
    const port = await freePort();
    const alicePort = await freePort();
    const server = await startTrunkline(
      [`listen: [udp:127.0.0.1:${port}]`, 'registrar: {algorithms: MD5, keepAlive: 0}', ''].join('\n'),
    );
    let c: ConsolePage | undefined;
    try {
      const api = /"api":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(server.output())![1]!;
      const made = await run(
        process.execPath,
        [CLI, 'token', 'add', 'browser', '--role', 'admin', '--config', server.configFile],
        15_000,
      );
      assert.equal(made.code, 0, made.stderr);
      const token = made.stdout.trim();
      const auth = { authorization: `Bearer ${token}` };

      c = await openConsole(`${api}/`);
      const { page } = c;
      await page.waitForFunction(() => document.body.dataset.ready === 'login');
      await c.shot('login');
      // A wrong token is refused with the API's message.
      await page.fill('#token', 'tl_wrong');
      await page.click('#login-form button[type=submit]');
      await page.waitForFunction(() => document.querySelector('#error')?.textContent?.includes('refused') === true);
      await page.fill('#token', token);
      await page.click('#login-form button[type=submit]');
      await page.waitForFunction(() => document.body.dataset.ready === 'dashboard');
      await page.waitForFunction(() => document.querySelector('#stream-state')?.textContent === 'events: open');

      // Domains: add one through the form; the server has it.
      await c.go('domains');
      await page.fill('#domains-form [name=domain]', DOMAIN);
      await page.click('#domains-form button[type=submit]');
      await page.waitForFunction(
        (d) => document.querySelector('#domains-table tbody')?.textContent?.includes(d) === true,
        DOMAIN,
      );
      await c.shot('domains');
      assert.deepEqual(
        ((await (await fetch(`${api}/api/v1/domains`, { headers: auth })).json()) as Array<{ domain: string }>).map(
          (d) => d.domain,
        ),
        [DOMAIN],
      );

      // Subscribers: add alice with a password; it is stored as HA1 and shown nowhere.
      await c.go('subscribers');
      await page.fill('#subscribers-form [name=subscriber]', `alice@${DOMAIN}`);
      await page.fill('#subscribers-form [name=password]', 'console-pw-1');
      await page.click('#subscribers-form button[type=submit]');
      await page.waitForFunction(
        (s) => document.querySelector('#subscribers-table tbody')?.textContent?.includes(s) === true,
        `alice@${DOMAIN}`,
      );
      await c.shot('subscribers');
      assert.equal(
        await page.evaluate(() => document.documentElement.outerHTML.includes('console-pw-1')),
        false,
        'the password is not left in the page',
      );
      assert.equal(await page.inputValue('#subscribers-form [name=password]'), '');

      // Dashboard: a SIPp REGISTER with that password shows up live (event feed, table, figure).
      await c.go('dashboard');
      const file = scenarioWith('registrar-register.xml', { domain: DOMAIN, expect: '200' });
      const reg = await sipp({
        scenario: file,
        target: `127.0.0.1:${port}`,
        localPort: alicePort,
        extra: ['-s', 'alice', '-au', 'alice', '-ap', 'console-pw-1', '-auth_uri', DOMAIN],
      });
      assert.equal(reg.code, 0, reg.stdout.slice(-2000));
      await page.waitForFunction((aor) => {
        const t = document.querySelector('#events')?.textContent ?? '';
        return t.includes('registration') && t.includes(aor);
      }, `alice@${DOMAIN}`);
      await page.waitForFunction(
        (contact) => document.querySelector('#registrations tbody')?.textContent?.includes(contact) === true,
        `sip:alice@127.0.0.1:${alicePort}`,
      );
      await page.waitForFunction(() => document.querySelector('#fig-registrations b')?.textContent === '1');
      // Both charts drawn (uPlot canvases), over 60 minutes.
      assert.equal(await page.locator('#chart-calls canvas').count(), 1);
      assert.equal(await page.locator('#chart-failures canvas').count(), 1);
      assert.equal(await page.getAttribute('#chart-calls', 'data-points'), '60');
      await c.shot('dashboard');

      // Removing the domain that still has alice: the API's 409 on the page, nothing removed.
      await c.go('domains');
      await page
        .locator('#domains-table tbody tr', { hasText: DOMAIN })
        .getByRole('button', { name: 'Remove' })
        .click();
      await page.waitForFunction(
        () => document.querySelector('#error')?.textContent?.includes('has 1 subscriber') === true,
      );
      assert.equal((await fetch(`${api}/api/v1/domains/${DOMAIN}`, { headers: auth })).status, 200);

      // Bans: one added through the form (the server has it), then lifted from the page.
      await c.go('bans');
      await page.fill('#bans-form [name=ip]', BANNED);
      await page.fill('#bans-form [name=reason]', 'console test');
      await page.click('#bans-form button[type=submit]');
      await page.waitForFunction(
        (ip) => document.querySelector('#bans-table tbody')?.textContent?.includes(ip) === true,
        BANNED,
      );
      assert.equal((await fetch(`${api}/api/v1/bans/${BANNED}`, { headers: auth })).status, 200);
      await c.shot('bans');
      await page.locator('#bans-table tbody tr', { hasText: BANNED }).getByRole('button', { name: 'Lift' }).click();
      await page.waitForFunction(() => document.querySelectorAll('#bans-table tbody tr').length === 0);
      assert.equal((await fetch(`${api}/api/v1/bans/${BANNED}`, { headers: auth })).status, 404);
      assert.deepEqual(c.errors, []);
    } finally {
      await c?.close();
      assert.equal(await server.stop(), 0);
    }
  },
);

test(
  'console in headless chromium: add a trunk and a DID, a SIPp call appears live and is hung up from the page, its CDR, CSV and ladder',
  { skip, timeout: 150_000 },
  async () => {
    const s = await startCallServer({ withTrunk: false });
    let c: ConsolePage | undefined;
    try {
      c = await openLoggedIn(s);
      const { page } = c;

      // A trunk and a DID, through the pages.
      await c.go('trunks');
      const tf = '#trunks-form';
      await page.fill(`${tf} [name=name]`, 'pbx');
      await page.fill(`${tf} [name=account]`, 'acme');
      await page.fill(`${tf} [name=ip]`, `${PBX}/32`);
      await page.fill(`${tf} [name=dest]`, `sip:${PBX}:${s.pbxPort}`);
      await page.fill(`${tf} [name=maxCalls]`, '5');
      await page.click(`${tf} button[type=submit]`);
      await page.waitForFunction(
        (ip) => document.querySelector('#trunks-table tbody')?.textContent?.includes(ip) === true,
        `${PBX}/32`,
      );
      // A bad one: the API's 400 naming the field, nothing added.
      await page.fill(`${tf} [name=name]`, 'bad');
      await page.fill(`${tf} [name=account]`, 'acme');
      await page.fill(`${tf} [name=ip]`, '999.1.1.1');
      await page.click(`${tf} button[type=submit]`);
      await page.waitForFunction(() => document.querySelector('#error')?.textContent?.startsWith('ip') === true);
      assert.equal((await s.request('GET', '/api/v1/trunks/bad')).status, 404);
      await c.shot('trunks');
      await c.go('dids');
      await page.fill('#dids-form [name=number]', DID);
      await page.fill('#dids-form [name=trunk]', 'pbx');
      await page.click('#dids-form button[type=submit]');
      await page.waitForFunction(
        (d) => document.querySelector('#dids-table tbody')?.textContent?.includes(d) === true,
        DID,
      );
      await c.shot('dids');
      const trunk = (await s.request('GET', '/api/v1/trunks/pbx')).json;
      assert.deepEqual(
        [trunk.account, trunk.ip, trunk.dest, trunk.maxCalls],
        ['acme', [`${PBX}/32`], `sip:${PBX}:${s.pbxPort}`, 5],
      );
      assert.equal((await s.request('GET', `/api/v1/dids/${encodeURIComponent(DID)}`)).json.trunk, 'pbx');

      // Edit (PATCH): the account gets a CPM limit.
      await c.go('accounts');
      await page.locator('#accounts-table tbody tr', { hasText: 'acme' }).getByRole('button', { name: 'Edit' }).click();
      assert.equal(await page.isDisabled('#accounts-form [name=name]'), true, 'the key is not editable');
      await page.fill('#accounts-form [name=cpm]', '120');
      await page.click('#accounts-form button[type=submit]');
      await page.waitForFunction(
        () => document.querySelector('#accounts-table tbody tr td:nth-child(2)')?.textContent === '120',
      );
      assert.equal((await s.request('GET', '/api/v1/accounts/acme')).json.cpm, 120);
      await c.shot('accounts');
      await c.go('carriers');
      await page.waitForFunction(
        (g) => document.querySelector('#carriers-table tbody')?.textContent?.includes(g) === true,
        CARRIER,
      );
      await c.shot('carriers');
      await c.go('routes');
      await page.waitForFunction(
        () => document.querySelector('#routes-table tbody')?.textContent?.includes('main') === true,
      );
      await c.shot('routes');
      // The server sees the new trunk and DID within 2 s.
      await page.waitForTimeout(2200);

      // A call carrier -> DID -> PBX appears live (the page follows the event stream).
      await c.go('calls');
      const call = s.inboundCall();
      const row = page.locator('#calls-table tbody tr', { hasText: 'confirmed' });
      await row.waitFor({ timeout: 20_000 });
      const sid = (await row.getAttribute('data-key')) ?? '';
      assert.match(sid, /^CA[0-9a-f]{20}$/);
      assert.match((await row.textContent()) ?? '', new RegExp(`inbound.*pbx.*main.*\\${DID}`));
      await c.shot('calls');

      // The dashboard while it lasts: one live call, counted in the calls-per-minute chart.
      await c.go('dashboard');
      await page.waitForFunction(() => document.querySelector('#fig-calls b')?.textContent === '1');
      await page.waitForFunction(
        (id) =>
          document.querySelector('#dash-calls tbody')?.textContent?.includes('confirmed') === true &&
          document.querySelector(`#dash-calls tbody tr[data-key="${id}"]`) !== null,
        sid,
      );
      assert.ok(
        Number(await page.getAttribute('#chart-calls', 'data-total')) >= 2,
        'the live call is started and answered in the chart',
      );
      assert.equal(await page.locator('#chart-calls canvas').count(), 1);
      await page.waitForFunction(
        () => document.querySelector('#gateways tbody')?.textContent?.includes('main') === true,
      );
      await c.shot('dashboard-call');

      // Hang up asks first: dismissed, the call goes on; accepted, both SIPps see the BYE and end well; the row goes.
      await c.go('calls');
      const hangUp = page.locator(`#calls-table tbody tr[data-key="${sid}"]`).getByRole('button', { name: 'Hang up' });
      const asked: string[] = [];
      page.once('dialog', (d) => {
        asked.push(`${d.type()}: ${d.message()}`);
        void d.dismiss();
      });
      await hangUp.click();
      for (let i = 0; i < 50 && asked.length === 0; i++) await page.waitForTimeout(100);
      assert.deepEqual(asked, [`confirm: Hang up call ${sid} (${CALLER} to ${DID})? Both legs get a BYE.`]);
      await page.waitForTimeout(1000);
      assert.equal(
        (await s.request('GET', `/api/v1/calls/${sid}`)).json.state,
        'confirmed',
        'a dismissed confirmation leaves the call up',
      );
      assert.equal(await page.locator(`#calls-table tbody tr[data-key="${sid}"]`).count(), 1);
      page.once('dialog', (d) => void d.accept());
      await hangUp.click();
      const [caller, pbx] = await call.done;
      assert.equal(caller.code, 0, `caller: ${caller.stdout.slice(-2000)}`);
      assert.equal(pbx.code, 0, `pbx: ${pbx.stdout.slice(-2000)}`);
      await page.waitForFunction(() => document.querySelectorAll('#calls-table tbody tr').length === 0);
      // The CDR says the operator hung up (the API's record of it).
      let cdr: { status: number; json: any } = { status: 0, json: null };
      for (let i = 0; i < 50 && cdr.status !== 200; i++) {
        cdr = await s.request('GET', `/api/v1/cdrs/${sid}`);
        if (cdr.status !== 200) await page.waitForTimeout(100);
      }
      assert.deepEqual([cdr.status, cdr.json.reason, cdr.json.hangupBy], [200, 'Hung up by operator', 'system']);

      // Its CDR in the search, and the CSV export of the same filters.
      await c.go('cdrs');
      await page.fill('#cdrs-form [name=trunk]', 'pbx');
      await page.selectOption('#cdrs-form [name=disposition]', 'answered');
      await page.click('#cdrs-form button[type=submit]');
      await page.waitForFunction((id) => {
        const t = document.querySelector('#cdrs-table tbody')?.textContent ?? '';
        return t.includes(id) && t.includes('Hung up by operator');
      }, sid);
      // Each side's transport and codec (the CDR's extra.legs).
      const mediaCell = await page.locator(`#cdrs-table tbody tr[data-key="${sid}"] td`).nth(10).textContent();
      assert.equal(mediaCell, 'RTP PCMA → RTP PCMA');
      await c.shot('cdrs');
      const [download] = await Promise.all([
        page.waitForEvent('download', { timeout: 10_000 }),
        page.click('#cdrs-csv'),
      ]);
      const csv = readFileSync((await download.path())!, 'utf8');
      assert.equal(download.suggestedFilename(), 'cdrs.csv');
      assert.ok(csv.split('\n')[0]!.includes('callSid') || csv.split('\n')[0]!.includes('call_sid'), csv.slice(0, 200));
      assert.ok(csv.includes(sid) && csv.includes('Hung up by operator'), csv);

      // Its ladder: both legs, the carrier on the left, Trunkline, the PBX on the right.
      await page.locator(`#cdrs-table tbody tr[data-key="${sid}"]`).getByRole('button', { name: 'Ladder' }).click();
      await page.waitForFunction(
        () =>
          document.body.dataset.ready === 'ladder' &&
          Number(document.querySelector('#ladder-diagram')?.getAttribute('data-messages')) > 0,
      );
      assert.equal(await text(c, '#ladder-sid'), sid);
      assert.equal(await page.getAttribute('#ladder-diagram', 'data-legs'), 'a,b');
      const lanes = await page.locator('#ladder-diagram .lane .lane-addr').allTextContents();
      assert.ok(lanes[0]!.startsWith(`${CARRIER}:`), lanes.join(' | '));
      assert.equal(lanes.at(-1), `${PBX}:${s.pbxPort}`, lanes.join(' | '));
      const labels = await page.locator('#ladder-diagram .arrow .label').allTextContents();
      for (const m of ['INVITE', '200 OK', 'ACK', 'BYE'])
        assert.ok(
          labels.some((l) => l.startsWith(m)),
          `${m} in ${labels.join(', ')}`,
        );
      assert.ok(
        (await page.locator('#ladder-diagram .arrow.leg-a').count()) >= 4 &&
          (await page.locator('#ladder-diagram .arrow.leg-b').count()) >= 4,
      );
      // A click on an arrow shows the whole message.
      await page.locator('#ladder-diagram .arrow.leg-b .hit').first().click();
      await page.waitForFunction(
        () => document.querySelector('#ladder-message pre')?.textContent?.startsWith('INVITE sip:') === true,
      );
      await c.shot('ladder');
      assert.deepEqual(c.errors, []);
    } finally {
      await c?.close();
      await s.close();
    }
  },
);

/** Every sample of a counter in a /metrics text, as `labels -> value` (labels as `k=v,...`). */
/** The console of a call server, logged in with its token: the dashboard shown. */
async function openLoggedIn(s: { api: string; token: string }): Promise<ConsolePage> {
  const c = await openConsole(`${s.api}/`);
  try {
    await c.page.waitForFunction(() => document.body.dataset.ready === 'login');
    await c.page.fill('#token', s.token);
    await c.page.click('#login-form button[type=submit]');
    await c.page.waitForFunction(() => document.body.dataset.ready === 'dashboard');
    return c;
  } catch (err) {
    await c.close();
    throw err;
  }
}

function samplesOf(metricsText: string, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of metricsText.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    out[[...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => `${x[1]}=${x[2]}`).join(',')] = Number(m[3]);
  }
  return out;
}

test(
  'console in headless chromium: a trunk and a carrier edited through the pages, then an answered call, a failed one and two refused ones on the dashboard',
  { skip, timeout: 60_000 },
  async () => {
    const s = await startCallServer();
    let c: ConsolePage | undefined;
    try {
      c = await openLoggedIn(s);
      const { page } = c;

      // Edit the trunk (PATCH): 2 calls per minute, 3 at once; the API has both, nothing else changed.
      await c.go('trunks');
      const tf = '#trunks-form';
      await page.locator('#trunks-table tbody tr[data-key="pbx"]').getByRole('button', { name: 'Edit' }).click();
      assert.equal(await page.isDisabled(`${tf} [name=name]`), true, 'the key is not editable');
      assert.equal(await page.inputValue(`${tf} [name=dest]`), `sip:${PBX}:${s.pbxPort}`, 'the form holds the trunk');
      assert.equal(await page.inputValue(`${tf} [name=cpm]`), '200');
      await page.fill(`${tf} [name=cpm]`, '2');
      await page.fill(`${tf} [name=maxCalls]`, '3');
      await page.click(`${tf} button[type=submit]`);
      // The table's CPM and max calls columns (6th and 7th) show the new values.
      await page.waitForFunction(() => {
        const cells = [...document.querySelectorAll('#trunks-table tbody tr[data-key="pbx"] td')].map(
          (td: any) => td.textContent,
        );
        return cells[5] === '2' && cells[6] === '3';
      });
      const trunk = (await s.request('GET', '/api/v1/trunks/pbx')).json;
      assert.deepEqual(
        [trunk.cpm, trunk.maxCalls, trunk.account, trunk.ip, trunk.dest],
        [2, 3, 'acme', [`${PBX}/32`], `sip:${PBX}:${s.pbxPort}`],
      );
      assert.equal(await page.locator(`${tf} h3`).textContent(), 'Add', 'the form is back to adding');

      // Edit the carrier: credentials for its gateway; the password is kept as "set" and shown nowhere.
      await c.go('carriers');
      await page.locator('#carriers-table tbody tr[data-key="main"]').getByRole('button', { name: 'Edit' }).click();
      assert.equal(await page.inputValue('#carriers-form [name=gateways]'), `sip:${CARRIER}:${s.gwPort}`);
      await page.fill('#carriers-form [name=username]', 'tl-user');
      await page.fill('#carriers-form [name=password]', 'carrier-pw-9');
      await page.click('#carriers-form button[type=submit]');
      await page.waitForFunction(() => {
        const t = document.querySelector('#carriers-table tbody tr[data-key="main"]')?.textContent ?? '';
        return t.includes('tl-user') && t.includes('set');
      });
      const carrier = (await s.request('GET', '/api/v1/carriers/main')).json;
      assert.deepEqual(
        [carrier.username, carrier.hasPassword, carrier.register, carrier.gateways],
        ['tl-user', true, false, [`sip:${CARRIER}:${s.gwPort}`]],
      );
      assert.equal(
        await page.evaluate(() => document.documentElement.outerHTML.includes('carrier-pw-9')),
        false,
        'the password is not left in the page',
      );
      // The server sees the new limits within 2 s.
      await page.waitForTimeout(2200);

      // Four calls from the carrier, each ended with its final status:
      //  1. to the DID: admitted (the minute's first call), the PBX answers, the caller hangs up -> a CDR, answered;
      //  2. to the DID: admitted (the second), the PBX answers 486 -> a CDR, failed;
      //  3. to the DID again: over the trunk's 2 CPM -> 503 before any leg (a CDR of the trunk, failed);
      //  4. to a number that is no DID -> 404 before any leg (a CDR of the carrier only, failed).
      const uac = (expect: string) => scenarioWith('trunk-uac-expect.xml', { caller: '+15551230000', expect });
      const call = async (expect: string, to: string) =>
        sipp({
          scenario: uac(expect),
          target: `127.0.0.1:${s.port}`,
          ip: CARRIER,
          localPort: await freePort(),
          timeoutS: 15,
          extra: ['-s', to],
        });
      const callee = sippBackground(scenario('uas-call.xml'), s.pbxPort, { ip: PBX, timeoutS: 20 });
      const answered = await sipp({
        scenario: scenario('uac-call.xml'),
        target: `127.0.0.1:${s.port}`,
        ip: CARRIER,
        localPort: await freePort(),
        timeoutS: 15,
        extra: ['-s', DID],
      });
      assert.equal(answered.code, 0, `answered caller: ${answered.stdout.slice(-2000)}`);
      assert.equal((await callee.done).code, 0, 'the PBX SIPp answered and saw the BYE');
      const busy = sippBackground(scenario('uas-busy.xml'), s.pbxPort, { ip: PBX, timeoutS: 20 });
      const failed = await call('486', DID);
      assert.equal(failed.code, 0, `486 caller: ${failed.stdout.slice(-2000)}`);
      assert.equal((await busy.done).code, 0, 'the PBX SIPp saw its INVITE and the ACK');
      const limited = await call('503', DID);
      assert.equal(limited.code, 0, `503 caller: ${limited.stdout.slice(-2000)}`);
      const unknown = await call('404', '+919999999999');
      assert.equal(unknown.code, 0, `404 caller: ${unknown.stdout.slice(-2000)}`);
      // 5. from an address that is no trunk, carrier or user -> 403, counted and listed, no CDR.
      const stranger = await sipp({
        scenario: uac('403'),
        target: `127.0.0.1:${s.port}`,
        ip: '127.0.0.9',
        localPort: await freePort(),
        timeoutS: 15,
        extra: ['-s', DID],
      });
      assert.equal(stranger.code, 0, `403 stranger: ${stranger.stdout.slice(-2000)}`);

      // What the server recorded: four CDRs (newest first: 404, 503, 486, 200), the refusals also counted by status and cause.
      let cdrs: any[] = [];
      for (let i = 0; i < 50 && cdrs.length < 4; i++) {
        const r = await s.request('GET', '/api/v1/cdrs');
        cdrs = Array.isArray(r.json) ? r.json : (r.json?.items ?? []);
        if (cdrs.length < 4) await page.waitForTimeout(100);
      }
      assert.deepEqual(
        cdrs.map((x) => [x.status, x.reason, x.trunk, x.answerAt === null]),
        [
          [404, 'Unknown DID', null, true],
          [503, 'Calls per minute limit reached', 'pbx', true],
          [486, 'Busy Here', 'pbx', true],
          [200, 'Normal Clearing', 'pbx', false],
        ],
      );
      const refused = samplesOf(await (await fetch(`${s.api}/metrics`)).text(), 'trunkline_calls_refused_total');
      assert.deepEqual(refused, {
        'status=404,cause=unknown-did': 1,
        'status=503,cause=cpm-limit': 1,
        'status=403,cause=unknown-source': 1,
      });

      // The dashboard: the CDRs in the last hour's figures and charts (each in its start minute), the
      // refusals also in the refused-calls card by cause and the limit hits (the CPM one only).
      await c.go('dashboard');
      await page.waitForFunction(() => document.querySelector('#fig-failed b')?.textContent === '3');
      assert.equal(await text(c, '#fig-hour b'), '4');
      assert.equal(await text(c, '#fig-limits b'), '1');
      assert.equal(await page.getAttribute('#fig-failed', 'class'), 'figure bad');
      const plotted = (id: string): Promise<number[][]> =>
        page.evaluate(
          (sel) => document.querySelector(sel).uplot.data.map((s: ArrayLike<number>) => Array.from(s)),
          `#${id}`,
        );
      // A CDR's start minute, in uPlot's x values (unix seconds); the two calls may straddle a minute.
      const minuteOf = (x: { startAt: string }): number => Math.floor(Date.parse(x.startAt) / 60_000) * 60;
      const [ftimes, fvalues] = await plotted('chart-failures');
      assert.equal(ftimes!.length, 60);
      for (const x of cdrs)
        assert.ok(
          ftimes!.includes(minuteOf(x)),
          `the minute of ${x.startAt} is among the chart's ${ftimes![0]}..${ftimes!.at(-1)}`,
        );
      const perMinute = (keep: (x: any) => boolean): number[] =>
        ftimes!.map((t) => cdrs.filter((x) => keep(x) && minuteOf(x) === t).length);
      assert.deepEqual(
        fvalues,
        perMinute((x) => x.status !== 200),
        'the three failures (486 and two refusals), each in its minute',
      );
      const [ctimes, started, answeredSeries] = await plotted('chart-calls');
      assert.deepEqual(ctimes, ftimes);
      assert.deepEqual(
        started,
        perMinute(() => true),
        'all four calls started, each in its minute',
      );
      assert.deepEqual(
        answeredSeries,
        perMinute((x) => x.status === 200),
        'the one answered, in its minute',
      );
      const rows = await page
        .locator('#limits tbody tr')
        .evaluateAll((trs: any[]) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td: any) => td.textContent)));
      assert.deepEqual(rows.sort(), [
        ['calls per minute limit (503)', '1'],
        ['unknown DID (404)', '1'],
        ['unknown source (no trunk, carrier or user) (403)', '1'],
      ]);
      const strangers = await page
        .locator('#unknown-sources tbody tr')
        .evaluateAll((trs: any[]) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td: any) => td.textContent)));
      assert.deepEqual(
        strangers.map((r: string[]) => [r[0], r[1]!.startsWith('INVITE '), r[2]]),
        [['udp:127.0.0.9', true, '1']],
      );
      // The event feed: the answered call's end is not shown as an alarm, the failed one's is.
      await page.waitForFunction(() => document.querySelectorAll('#events .ev-call-ended').length === 4);
      const ended = await page
        .locator('#events .ev-call-ended')
        .evaluateAll((els: any[]) => els.map((e) => e.className));
      assert.deepEqual(
        ended,
        ['ev ev-call-ended failed', 'ev ev-call-ended failed', 'ev ev-call-ended failed', 'ev ev-call-ended'],
        'newest first: 404, 503, 486, then the answered call',
      );
      await c.shot('dashboard-refused');

      // CDRs: a filter chosen and exported without a search first; the CSV and the table agree (the three failed calls).
      await c.go('cdrs');
      await page.waitForFunction(() => document.querySelectorAll('#cdrs-table tbody tr').length === 4);
      await page.selectOption('#cdrs-form [name=disposition]', 'failed');
      const [download] = await Promise.all([
        page.waitForEvent('download', { timeout: 10_000 }),
        page.click('#cdrs-csv'),
      ]);
      const csvRows = readFileSync((await download.path())!, 'utf8')
        .trim()
        .split('\n');
      assert.equal(csvRows.length, 4, csvRows.join('\n'));
      for (const [i, status] of ['404', '503', '486'].entries())
        assert.ok(csvRows[i + 1]!.includes(cdrs[i].callSid) && csvRows[i + 1]!.includes(status), csvRows[i + 1]);
      const failedSids = cdrs.slice(0, 3).map((x) => x.callSid);
      await page.waitForFunction((sids) => {
        const keys = [...document.querySelectorAll('#cdrs-table tbody tr')].map((tr) => tr.getAttribute('data-key'));
        return keys.length === 3 && keys.every((k, i) => k === sids[i]);
      }, failedSids);

      // An export larger than one API page (10,000): 10,000 older records written into the server's store,
      // then every one of the 10,004 comes out, the header once, along Next-Cursor.
      const store = await openStore({ kind: 'sqlite', file: `${s.server.dir}/data/trunkline.db` });
      try {
        const t = Date.parse(cdrs[3].startAt) - 3_600_000;
        for (let i = 0; i < 10_000; i++) {
          await store.cdrs.insert({
            callSid: `CA${String(i).padStart(20, '0')}`,
            account: 'acme',
            trunk: 'pbx',
            carrier: 'main',
            direction: 'inbound',
            from: CALLER,
            to: DID,
            startAt: t + i,
            answerAt: t + i,
            endAt: t + i + 1000,
            duration: 1,
            status: 200,
            reason: 'Normal Clearing',
            hangupBy: 'caller',
            extra: null,
          });
        }
      } finally {
        await store.close();
      }
      await page.selectOption('#cdrs-form [name=disposition]', '');
      const [all] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.click('#cdrs-csv')]);
      const allRows = readFileSync((await all.path())!, 'utf8')
        .trim()
        .split('\r\n');
      assert.equal(allRows.length, 1 + 10_004, 'the header and every record');
      assert.equal(allRows.filter((r) => r.startsWith('callSid,')).length, 1, 'the header once');
      assert.equal(new Set(allRows.slice(1).map((r) => r.split(',')[0])).size, 10_004, 'no record twice');
      assert.deepEqual(c.errors, []);
    } finally {
      await c?.close();
      await s.close();
    }
  },
);

test(
  'console in headless chromium: the Ladder of a CDR from before a restart says its messages are no longer kept, without an error',
  { skip, timeout: 60_000 },
  async () => {
    const port = await freePort();
    const server = await startTrunkline([`listen: [udp:127.0.0.1:${port}]`, ''].join('\n'));
    let c: ConsolePage | undefined;
    try {
      const api = /"api":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(server.output())![1]!;
      const made = await run(
        process.execPath,
        [CLI, 'token', 'add', 'browser', '--role', 'admin', '--config', server.configFile],
        15_000,
      );
      assert.equal(made.code, 0, made.stderr);
      // The record of a call the server handled before it was restarted: in the store, its SIP messages (kept in memory) gone.
      const sid = 'CA0123456789abcdef0123';
      const store = await openStore({ kind: 'sqlite', file: `${server.dir}/data/trunkline.db` });
      try {
        const t = Date.now() - 600_000;
        await store.cdrs.insert({
          callSid: sid,
          account: null,
          trunk: null,
          carrier: 'main',
          direction: 'inbound',
          from: CALLER,
          to: DID,
          startAt: t,
          answerAt: t + 2000,
          endAt: t + 62_000,
          duration: 60,
          status: 200,
          reason: 'Normal Clearing',
          hangupBy: 'caller',
          extra: null,
        });
      } finally {
        await store.close();
      }
      c = await openLoggedIn({ api, token: made.stdout.trim() });
      const { page } = c;
      await c.go('cdrs');
      await page.locator(`#cdrs-table tbody tr[data-key="${sid}"]`).getByRole('button', { name: 'Ladder' }).click();
      await page.waitForFunction(() => document.body.dataset.ready === 'ladder');
      assert.equal(await text(c, '#ladder-sid'), sid);
      assert.match(await text(c, '#ladder-gone'), /^The SIP messages of this call are no longer kept\..*restart/);
      assert.equal(await page.locator('#ladder-diagram').count(), 0);
      assert.equal(await page.locator('#error').count(), 0, 'no error box');
      await c.shot('ladder-gone');
      assert.deepEqual(c.errors, []);
    } finally {
      await c?.close();
      assert.equal(await server.stop(), 0);
    }
  },
);
