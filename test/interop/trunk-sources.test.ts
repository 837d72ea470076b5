/**
 * Who a trunk call comes from, live with SIPp on loopback: a carrier
 * gateway's address keeps its meaning inside a wide trunk range (forced in
 * with 127.0.0.0/29), so the carrier's INVITE to a DID still reaches the
 * DID's trunk instead of being taken as the wide trunk's outbound call;
 * an address that is no trunk, carrier or user gets 403, one log line a
 * minute, a count as a refused call and a place in the API's list, and no
 * CDR.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { haveCommand, sipp, sippBackground, scenarioWith } from '../helpers/sipp.js';
import { openStore, type Store } from '../../src/store/index.js';
import { TokenRepo } from '../../src/store/repos/tokens.js';

const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';
const PBX = '127.0.0.2';
const CARRIER = '127.0.0.5';
const STRANGER = '127.0.0.9';
const DID = '+912240001234';

let server: RunningTrunkline;
let store: Store;
let port: number;
let pbxPort: number;
let apiPort: number;

before(async () => {
  if (skip !== false) return;
  [port, pbxPort, apiPort] = await Promise.all([freePort(), freePort(), freePort()]);
  server = await startTrunkline(
    [
      `listen: [udp:127.0.0.1:${port}]`,
      `api: {listen: "127.0.0.1:${apiPort}"}`,
      'sip: {timers: {t1: 100, t2: 4000, t4: 5000}}',
      'trunking: {ping: {interval: 0}}',
      '',
    ].join('\n'),
  );
  store = await openStore({ kind: 'sqlite', file: `${server.dir}/data/trunkline.db` });
  await store.accounts.add({ name: 'acme' });
  await store.accounts.add({ name: 'beta' });
  await store.carriers.add({ name: 'upstream', gateways: [`sip:${CARRIER}:${await freePort()}`] });
  await store.trunks.add({ name: 'pbx', account: 'acme', ip: [`${PBX}/32`], dest: `sip:${PBX}:${pbxPort}` });
  await store.dids.add(DID, 'pbx');
  // A range that holds the carrier gateway: refused without force.
  await store.trunks.add({ name: 'wide', account: 'beta', ip: ['127.0.0.0/29'] }, { force: true });
  await store.routes.add('+', ['upstream']);
  await new Promise((r) => setTimeout(r, 2200)); // the server polls the store every second
});

after(async () => {
  if (skip !== false) return;
  await store.close();
  assert.equal(await server.stop(), 0);
});

test(
  "a carrier's INVITE from an address inside a wide trunk range still reaches the DID's trunk",
  { skip, timeout: 60_000 },
  async () => {
    const pbx = sippBackground(
      scenarioWith('trunk-uas-expect.xml', {
        must: 'X-Call-Sid: CA[0-9a-f]{20}',
        hidden: 'X-Internal-Secret',
        hiddenAddr: '127\\.0\\.0\\.5',
      }),
      pbxPort,
      { ip: PBX, timeoutS: 20 },
    );
    const scn = scenarioWith('trunk-uac-call.xml', {
      caller: '+15551230000',
      hidden: 'X-Call-Sid',
      hiddenAddr: '127\\.0\\.0\\.2',
      hold: '0',
    });
    const r = await sipp({
      scenario: scn,
      target: `127.0.0.1:${port}`,
      ip: CARRIER,
      localPort: await freePort(),
      timeoutS: 20,
      extra: ['-s', DID],
    });
    assert.equal(
      r.code,
      0,
      `the carrier's call failed:\n${r.stdout.slice(-2000)}\nserver:\n${server.output().slice(-2000)}`,
    );
    assert.equal((await pbx.done).code, 0, 'the DID trunk did not get the call');
    let cdr;
    for (
      const end = Date.now() + 5000;
      cdr === undefined && Date.now() < end;
      await new Promise((res) => setTimeout(res, 100))
    ) {
      cdr = (await store.cdrs.list({})).cdrs.find((c) => c.direction === 'inbound');
    }
    assert.deepEqual([cdr?.carrier, cdr?.trunk, cdr?.status], ['upstream', 'pbx', 200]);
  },
);

test(
  "an unknown source's INVITEs: 403 each, one log line, counted as refused calls, listed by the API, no CDR",
  { skip, timeout: 60_000 },
  async () => {
    const before = (await store.cdrs.list({})).cdrs.length;
    const scn = scenarioWith('trunk-uac-expect.xml', { caller: DID, expect: '403' });
    const r = await sipp({
      scenario: scn,
      target: `127.0.0.1:${port}`,
      ip: STRANGER,
      localPort: await freePort(),
      calls: 2,
      rate: 10,
      timeoutS: 15,
      extra: ['-s', '+4930123456'],
    });
    assert.equal(r.code, 0, `the stranger's INVITEs were not both answered 403:\n${r.stdout.slice(-2000)}`);
    const lines = server
      .output()
      .split('\n')
      .filter((l) => l.includes('request refused: unknown source'));
    assert.equal(lines.length, 1, `one line for two INVITEs from one source:\n${lines.join('\n')}`);
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(line['level'], 'warn');
    assert.match(String(line['source']), /^udp:127\.0\.0\.9:\d+$/);
    assert.equal(line['method'], 'INVITE');
    const metrics = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
    const sample = metrics
      .split('\n')
      .find((l) => l.startsWith('trunkline_calls_refused_total{') && l.includes('cause="unknown-source"'));
    assert.ok(sample !== undefined && sample.includes('status="403"') && sample.endsWith(' 2'), `metric: ${sample}`);
    const token = (await new TokenRepo(store.ctx).add('reader', 'read')).token;
    const res = await fetch(`http://127.0.0.1:${apiPort}/api/v1/stats/unknown-sources`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(res.status, 200);
    const list = (await res.json()) as Array<Record<string, unknown>>;
    assert.deepEqual(
      list.map((u) => [u['address'], u['proto'], u['method'], u['count']]),
      [[STRANGER, 'udp', 'INVITE', 2]],
    );
    assert.equal((await store.cdrs.list({})).cdrs.length, before, 'no CDR for a stranger');
  },
);
