/**
 * Who a trunk call comes from, live with SIPp on loopback: a carrier
 * gateway's address keeps its meaning inside a wide trunk range (forced in
 * with 127.0.0.0/29), so the carrier's INVITE to a DID still reaches the
 * DID's trunk instead of being taken as the wide trunk's outbound call.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { haveCommand, sipp, sippBackground, scenarioWith } from '../helpers/sipp.js';
import { openStore, type Store } from '../../src/store/index.js';

const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';
const PBX = '127.0.0.2';
const CARRIER = '127.0.0.5';
const DID = '+912240001234';

let server: RunningTrunkline;
let store: Store;
let port: number;
let pbxPort: number;

before(async () => {
  if (skip !== false) return;
  [port, pbxPort] = await Promise.all([freePort(), freePort()]);
  server = await startTrunkline([`listen: [udp:127.0.0.1:${port}]`, 'sip: {timers: {t1: 100, t2: 4000, t4: 5000}}', 'trunking: {ping: {interval: 0}}', ''].join('\n'));
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

test("a carrier's INVITE from an address inside a wide trunk range still reaches the DID's trunk", { skip, timeout: 60_000 }, async () => {
  const pbx = sippBackground(scenarioWith('trunk-uas-expect.xml', { must: 'X-Call-Sid: CA[0-9a-f]{20}', hidden: 'X-Internal-Secret', hiddenAddr: '127\\.0\\.0\\.5' }), pbxPort, { ip: PBX, timeoutS: 20 });
  const scn = scenarioWith('trunk-uac-call.xml', { caller: '+15551230000', hidden: 'X-Call-Sid', hiddenAddr: '127\\.0\\.0\\.2', hold: '0' });
  const r = await sipp({ scenario: scn, target: `127.0.0.1:${port}`, ip: CARRIER, localPort: await freePort(), timeoutS: 20, extra: ['-s', DID] });
  assert.equal(r.code, 0, `the carrier's call failed:\n${r.stdout.slice(-2000)}\nserver:\n${server.output().slice(-2000)}`);
  assert.equal((await pbx.done).code, 0, 'the DID trunk did not get the call');
  let cdr;
  for (const end = Date.now() + 5000; cdr === undefined && Date.now() < end; await new Promise((res) => setTimeout(res, 100))) {
    cdr = (await store.cdrs.list({})).cdrs.find((c) => c.direction === 'inbound');
  }
  assert.deepEqual([cdr?.carrier, cdr?.trunk, cdr?.status], ['upstream', 'pbx', 200]);
});
