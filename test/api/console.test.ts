/**
 * The web console in headless Chromium against a running server: log in
 * with a token made by the CLI, add a domain and a subscriber through the
 * pages (the store has them, the password shows nowhere), see a SIPp
 * registration arrive live on the dashboard (SSE), and see the API's 409
 * when removing a domain that still has a subscriber. With
 * TRUNKLINE_SCREENSHOTS=DIR the pages are saved there as PNG.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.js';
import { CLI, startTrunkline } from '../helpers/server.js';
import { haveCommand, run, scenarioWith, sipp } from '../helpers/sipp.js';
import { launch, type Page } from './chromium.js';
import { CARRIER, DID, PBX, startCallServer } from './call-fixture.js';

const skip = !haveCommand('chromium') ? 'chromium not installed (apt-get install chromium)' : !haveCommand('sipp') ? 'sipp not installed' : false;
const DOMAIN = 'console.example';

test('web console in headless Chromium: log in, add a domain and a subscriber, a SIPp registration appears live, a 409 is shown', { skip, timeout: 90_000 }, async () => {
  const port = await freePort();
  const alicePort = await freePort();
  const server = await startTrunkline([`listen: [udp:127.0.0.1:${port}]`, 'registrar: {algorithms: MD5, keepAlive: 0}', ''].join('\n'));
  let page: Page | undefined;
  const shots = process.env.TRUNKLINE_SCREENSHOTS;
  const shot = async (name: string): Promise<void> => {
    if (!shots || !page) return;
    mkdirSync(shots, { recursive: true });
    writeFileSync(join(shots, `console-${name}.png`), await page.screenshot());
  };
  try {
    const api = /"api":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(server.output())![1]!;
    const made = await run(process.execPath, [CLI, 'token', 'add', 'browser', '--role', 'admin', '--config', server.configFile], 15_000);
    assert.equal(made.code, 0, made.stderr);
    const token = made.stdout.trim();
    const auth = { authorization: `Bearer ${token}` };

    page = await launch(`${api}/`);
    await page.waitFor("document.querySelector('#login') && !document.querySelector('#login').hidden");
    await shot('login');
    // A wrong token is refused with the API's message.
    await page.evaluate(`document.querySelector('#token').value = 'tl_wrong'; document.querySelector('#login-form').requestSubmit()`);
    await page.waitFor("document.querySelector('#error').textContent.includes('refused')");
    await page.evaluate(`document.querySelector('#token').value = ${JSON.stringify(token)}; document.querySelector('#login-form').requestSubmit()`);
    await page.waitFor("document.body.dataset.ready === 'dashboard'");

    // Domains: add one through the form; the server has it.
    await page.evaluate("location.hash = '#domains'");
    await page.waitFor("document.body.dataset.ready === 'domains'");
    await page.evaluate(`document.querySelector('#domain-form [name=domain]').value = ${JSON.stringify(DOMAIN)}; document.querySelector('#domain-form').requestSubmit()`);
    await page.waitFor(`document.querySelector('#domain-table tbody').textContent.includes(${JSON.stringify(DOMAIN)})`);
    await shot('domains');
    assert.deepEqual(((await (await fetch(`${api}/api/v1/domains`, { headers: auth })).json()) as Array<{ domain: string }>).map((d) => d.domain), [DOMAIN]);

    // Subscribers: add alice with a password; it is stored as HA1 and shown nowhere.
    await page.evaluate("location.hash = '#subscribers'");
    await page.waitFor("document.body.dataset.ready === 'subscribers'");
    await page.evaluate(`const f = document.querySelector('#subscriber-form'); f.subscriber.value = 'alice@${DOMAIN}'; f.password.value = 'console-pw-1'; f.requestSubmit()`);
    await page.waitFor(`document.querySelector('#subscriber-table tbody').textContent.includes('alice@${DOMAIN}')`);
    await shot('subscribers');
    assert.equal(await page.evaluate<boolean>("document.documentElement.outerHTML.includes('console-pw-1')"), false, 'the password is not left in the page');

    // Dashboard: a SIPp REGISTER with that password shows up live.
    await page.evaluate("location.hash = '#dashboard'");
    await page.waitFor("document.body.dataset.ready === 'dashboard'");
    const file = scenarioWith('registrar-register.xml', { domain: DOMAIN, expect: '200' });
    const reg = await sipp({ scenario: file, target: `127.0.0.1:${port}`, localPort: alicePort, extra: ['-s', 'alice', '-au', 'alice', '-ap', 'console-pw-1', '-auth_uri', DOMAIN] });
    assert.equal(reg.code, 0, reg.stdout.slice(-2000));
    await page.waitFor(`document.querySelector('#events').textContent.includes('registration') && document.querySelector('#events').textContent.includes('alice@${DOMAIN}')`);
    await page.waitFor(`document.querySelector('#registrations tbody').textContent.includes('sip:alice@127.0.0.1:${alicePort}')`);
    await page.waitFor("[...document.querySelectorAll('.figure')].some((f) => f.textContent === '1registrations')");
    await shot('dashboard');

    // Removing the domain that still has alice: the API's 409 on the page, nothing removed.
    await page.evaluate("location.hash = '#domains'");
    await page.waitFor("document.body.dataset.ready === 'domains'");
    await page.evaluate("document.querySelector('#domain-table tbody button').click()");
    await page.waitFor("document.querySelector('#error').textContent.includes('has 1 subscriber')");
    assert.equal((await fetch(`${api}/api/v1/domains/${DOMAIN}`, { headers: auth })).status, 200);
  } finally {
    await page?.close();
    assert.equal(await server.stop(), 0);
  }
});

test('web console in headless Chromium: add a trunk and a DID, watch a SIPp call through the B2BUA appear live, hang it up from the page, find its CDR and CSV, open its ladder', { skip, timeout: 120_000 }, async () => {
  const s = await startCallServer({ withTrunk: false });
  let page: Page | undefined;
  const shots = process.env.TRUNKLINE_SCREENSHOTS;
  const shot = async (name: string): Promise<void> => {
    if (!shots || !page) return;
    mkdirSync(shots, { recursive: true });
    writeFileSync(join(shots, `console-${name}.png`), await page.screenshot());
  };
  const go = async (p: string): Promise<void> => {
    await page!.evaluate(`location.hash = '#${p}'`);
    await page!.waitFor(`document.body.dataset.ready === '${p.split('/')[0]}'`);
  };
  try {
    page = await launch(`${s.api}/`);
    await page.waitFor("document.querySelector('#login') && !document.querySelector('#login').hidden");
    await page.evaluate(`document.querySelector('#token').value = ${JSON.stringify(s.token)}; document.querySelector('#login-form').requestSubmit()`);
    await page.waitFor("document.body.dataset.ready === 'dashboard'");

    // A trunk and a DID, through the pages.
    await go('trunks');
    await page.evaluate(`{ const f = document.querySelector('#trunks-form'); f.name.value = 'pbx'; f.account.value = 'acme'; f.ip.value = '${PBX}/32'; f.dest.value = 'sip:${PBX}:${s.pbxPort}'; f.maxCalls.value = '5'; f.requestSubmit() }`);
    await page.waitFor(`document.querySelector('#trunks-table tbody').textContent.includes('${PBX}/32')`);
    await shot('trunks');
    // A bad one: the API's 400 naming the field.
    await page.evaluate(`{ const f = document.querySelector('#trunks-form'); f.name.value = 'bad'; f.account.value = 'acme'; f.ip.value = '999.1.1.1'; f.requestSubmit() }`);
    await page.waitFor("document.querySelector('#error').textContent.startsWith('ip: ')");
    await go('dids');
    await page.evaluate(`{ const f = document.querySelector('#dids-form'); f.number.value = '${DID}'; f.trunk.value = 'pbx'; f.requestSubmit() }`);
    await page.waitFor(`document.querySelector('#dids-table tbody').textContent.includes('${DID}')`);
    await shot('dids');
    const trunk = (await s.request('GET', '/api/v1/trunks/pbx')).json;
    assert.deepEqual([trunk.account, trunk.ip, trunk.dest, trunk.maxCalls], ['acme', [`${PBX}/32`], `sip:${PBX}:${s.pbxPort}`, 5]);
    assert.equal((await s.request('GET', `/api/v1/dids/${encodeURIComponent(DID)}`)).json.trunk, 'pbx');
    await go('carriers');
    await page.waitFor(`document.querySelector('#carriers-table tbody').textContent.includes('${CARRIER}')`);
    await shot('carriers');
    await go('routes');
    await page.waitFor("document.querySelector('#routes-table tbody').textContent.includes('main')");
    await shot('routes');
    await go('accounts');
    await page.waitFor("document.querySelector('#accounts-table tbody').textContent.includes('acme')");
    await shot('accounts');
    // The server sees the new trunk and DID within 2 s.
    await new Promise((r) => setTimeout(r, 2200));

    // A call carrier -> DID -> PBX appears live (the page follows the event stream) and is hung up from the page.
    await go('calls');
    const call = s.inboundCall();
    await page.waitFor("document.querySelector('#calls-table tbody').textContent.includes('confirmed')", 20_000);
    await shot('calls');
    const sid = await page.evaluate<string>("document.querySelector('#calls-table tbody td').textContent");
    assert.match(sid, /^CA[0-9a-f]{20}$/);
    await page.evaluate("[...document.querySelectorAll('#calls-table tbody button')].find((b) => b.textContent === 'Hang up').click()");
    const [caller, pbx] = await call.done;
    assert.equal(caller.code, 0, `caller: ${caller.stdout.slice(-2000)}`);
    assert.equal(pbx.code, 0, `pbx: ${pbx.stdout.slice(-2000)}`);
    await page.waitFor("document.querySelector('#calls-table tbody').children.length === 0");

    // Its CDR in the search, and the CSV export.
    await new Promise((r) => setTimeout(r, 500));
    await go('cdrs');
    await page.evaluate("{ const f = document.querySelector('#cdrs-form'); f.trunk.value = 'pbx'; f.disposition.value = 'answered'; f.requestSubmit() }");
    await page.waitFor(`document.querySelector('#cdrs-table tbody').textContent.includes('${sid}') && document.querySelector('#cdrs-table tbody').textContent.includes('Hung up by operator')`);
    await shot('cdrs');
    await page.evaluate("document.querySelector('#cdrs-csv').click()");
    await page.waitFor("document.body.dataset.csv === 'done'");

    // Its ladder: both legs, the parties as columns.
    await page.evaluate(`[...document.querySelectorAll('#cdrs-table tbody button')].find((b) => b.textContent === 'Ladder').click()`);
    await page.waitFor("document.body.dataset.ready === 'ladder' && document.querySelector('#ladder-diagram').textContent.includes('INVITE')");
    const diagram = await page.evaluate<string>("document.querySelector('#ladder-diagram').textContent");
    const head = diagram.split('\n')[0]!;
    assert.ok(head.includes(`${CARRIER}:`) && head.includes(`${PBX}:${s.pbxPort}`), diagram);
    assert.ok(/─+>/.test(diagram) && /<─+/.test(diagram) && diagram.includes('BYE') && diagram.includes('leg b'));
    assert.equal(await page.evaluate<string>("document.querySelector('#ladder-sid').textContent"), sid);
    await shot('ladder');
    await go('dashboard');
    await page.waitFor("[...document.querySelectorAll('.figure')].some((f) => f.textContent === '1calls answered')");
    await shot('dashboard-calls');
  } finally {
    await page?.close();
    await s.close();
  }
});
