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
