import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { sipp, sippBackground, scenarioWith, haveCommand } from '../helpers/sipp.js';
import { openStore, type Store } from '../../src/store/index.js';
import { elapsedUntil } from '../helpers/wait.js';

/**
 * Carrier gateway monitoring with real OPTIONS: a gateway with nothing
 * listening starts unknown and is marked down at its first failed ping
 * (there is no streak to protect yet), and calls skip it (no wait for its
 * timeout); once a SIPp answers its OPTIONS it is marked up again after 2
 * good answers in a row.
 */
const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';
const GW = '127.0.0.11';
const PBX = '127.0.0.2';

let server: RunningTrunkline;
let store: Store;
let port: number;
let deadPort: number;
let livePort: number;

before(async () => {
  if (skip !== false) return;
  [port, deadPort, livePort] = await Promise.all([freePort(), freePort(), freePort()]);
  server = await startTrunkline(
    [
      `listen: [udp:127.0.0.1:${port}]`,
      'sip: {timers: {t1: 100, t2: 4000, t4: 5000}}',
      // A slow failover (10 s) would show if the dead gateway were still tried.
      'trunking: {gatewayTimeout: 10, ping: {interval: 1, timeout: 1, downAfter: 3, upAfter: 2}}',
      '',
    ].join('\n'),
  );
  store = await openStore({ kind: 'sqlite', file: `${server.dir}/data/trunkline.db` });
  await store.accounts.add({ name: 'acme' });
  await store.trunks.add({ name: 'pbx', account: 'acme', ip: [`${PBX}/32`] });
  await store.dids.add('+912240001234', 'pbx');
  await store.carriers.add({ name: 'pair', gateways: [`sip:${GW}:${deadPort}`, `sip:${GW}:${livePort}`] });
  await store.routes.add('+', ['pair']);
});

after(async () => {
  if (skip !== false) return;
  await store.close();
  assert.equal(await server.stop(), 0);
});

/** Whether the server's log matches `pattern` within `ms`. */
async function waitForLog(pattern: RegExp, ms: number): Promise<boolean> {
  return (await elapsedUntil(() => pattern.test(server.output()), { timeoutMs: ms, intervalMs: 200 })) >= 0;
}

test(
  'a dead gateway is marked down at its first failed OPTIONS and skipped; back up after 2 answered ones',
  { skip, timeout: 60_000 },
  async () => {
    // The live gateway answers pings for the whole test (and one call).
    const pings = sippBackground(scenarioWith('gateway-options.xml', {}), livePort, {
      ip: GW,
      calls: 1000,
      timeoutS: 40,
    });
    const down = new RegExp(`"gateway":"sip:${GW.replace(/\./g, '\\.')}:${deadPort}","up":false`);
    assert.ok(
      await waitForLog(down, 12_000),
      `no 'gateway down' for the silent gateway:\n${server.output().slice(-2000)}`,
    );
    // Once, not at every failed ping.
    const firstDown = server
      .output()
      .split('\n')
      .filter((l) => down.test(l)).length;
    assert.equal(firstDown, 1);
    await pings.stop();

    // A call now goes to the live gateway at once, though the dead one is first in the list.
    const uas = sippBackground(
      scenarioWith('trunk-uas-expect.xml', { must: 'INVITE sip', hidden: 'X-Call-Sid', hiddenAddr: '127\\.0\\.0\\.2' }),
      livePort,
      { ip: GW, timeoutS: 20 },
    );
    const t0 = Date.now();
    const scn = scenarioWith('trunk-uac-call.xml', {
      caller: '+912240001234',
      hidden: 'X-Call-Sid',
      hiddenAddr: '127\\.0\\.0\\.11',
      hold: '0',
    });
    const r = await sipp({
      scenario: scn,
      target: `127.0.0.1:${port}`,
      ip: PBX,
      localPort: await freePort(),
      timeoutS: 20,
      extra: ['-s', '+4930111222'],
    });
    assert.equal(r.code, 0, r.stdout.slice(-2000));
    assert.ok(Date.now() - t0 < 5000, `the call took ${Date.now() - t0} ms: the dead gateway was tried`);
    assert.equal((await uas.done).code, 0);

    // The dead gateway comes back: its pings are answered, it is marked up.
    const back = sippBackground(scenarioWith('gateway-options.xml', {}), deadPort, {
      ip: GW,
      calls: 1000,
      timeoutS: 20,
    });
    const up = new RegExp(`"gateway":"sip:${GW.replace(/\./g, '\\.')}:${deadPort}","up":true`);
    assert.ok(await waitForLog(up, 10_000), `no 'gateway up':\n${server.output().slice(-2000)}`);
    await back.stop();
  },
);
