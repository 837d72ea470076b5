import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { sipp, sippBackground, scenarioWith, haveCommand } from '../helpers/sipp.js';
import { openStore, type Store } from '../../src/store/index.js';

/**
 * A carrier that wants Trunkline registered with it (`carrier add
 * --register`): the REGISTER goes to its gateway, its 401 is answered with
 * the carrier's credentials (SIPp verifies them), the binding is granted;
 * then the carrier's calls to that Contact, with the DID in To, reach the
 * DID's trunk.
 */
const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';
const CARRIER = '127.0.0.12';
const PBX = '127.0.0.2';
const DID = '+912240007777';

let server: RunningTrunkline;
let store: Store;
let port: number;
let gwPort: number;
let pbxPort: number;

before(async () => {
  if (skip !== false) return;
  [port, gwPort, pbxPort] = await Promise.all([freePort(), freePort(), freePort()]);
  server = await startTrunkline(
    [
      `listen: [udp:127.0.0.1:${port}]`,
      'sip: {timers: {t1: 100, t2: 4000, t4: 5000}}',
      'trunking: {ping: {interval: 0}}',
      '',
    ].join('\n'),
  );
  store = await openStore({ kind: 'sqlite', file: `${server.dir}/data/trunkline.db` });
  await store.accounts.add({ name: 'acme' });
  await store.trunks.add({ name: 'pbx', account: 'acme', ip: [`${PBX}/32`], dest: `sip:${PBX}:${pbxPort}` });
  await store.dids.add(DID, 'pbx');
});

after(async () => {
  if (skip !== false) return;
  await store.close();
  assert.equal(await server.stop(), 0);
});

test(
  'Trunkline registers with a carrier (401 answered, verified by SIPp) and takes its calls to that Contact',
  { skip, timeout: 40_000 },
  async () => {
    const registrar = sippBackground(
      scenarioWith('carrier-registrar.xml', { user: 'trunk-7', password: 'reg-secret' }),
      gwPort,
      { ip: CARRIER, timeoutS: 15 },
    );
    await store.carriers.add({
      name: 'regcarrier',
      gateways: [`sip:${CARRIER}:${gwPort}`],
      username: 'trunk-7',
      password: 'reg-secret',
      register: true,
    });
    const r = await registrar.done;
    assert.equal(
      r.code,
      0,
      `carrier registrar:\n${r.stdout.slice(-2500)}\n--- trunkline:\n${server.output().slice(-2000)}`,
    );
    for (let i = 0; i < 20 && !server.output().includes('registered with carrier'); i++)
      await new Promise((res) => setTimeout(res, 100));
    assert.match(server.output(), /"carrier":"regcarrier".*"expires":60.*registered with carrier/);
    // The carrier calls our Contact (user trunk-7) with the DID in To.
    const pbx = sippBackground(
      scenarioWith('trunk-uas-expect.xml', {
        must: 'X-Trunk-Sid: pbx',
        hidden: 'X-Internal-Secret',
        hiddenAddr: '127\\.0\\.0\\.12',
      }),
      pbxPort,
      {
        ip: PBX,
        timeoutS: 20,
        extra: process.env['SIPP_DEBUG'] ? ['-trace_err', '-error_file', '/tmp/sipp-err-carrierreg.log'] : [],
      },
    );
    const scn = scenarioWith('trunk-uac-call.xml', {
      caller: '+15550001111',
      hidden: 'X-Call-Sid',
      hiddenAddr: '127\\.0\\.0\\.2',
      hold: '0',
    });
    writeFileSync(scn, readFileSync(scn, 'utf8').replace(/INVITE sip:\[service\]@/g, 'INVITE sip:trunk-7@'));
    const c = await sipp({
      scenario: scn,
      target: `127.0.0.1:${port}`,
      ip: CARRIER,
      localPort: await freePort(),
      timeoutS: 15,
      extra: ['-s', DID],
    });
    assert.equal(c.code, 0, `carrier UAC:\n${c.stdout.slice(-2500)}\n${c.stderr.slice(-1000)}`);
    const p = await pbx.done;
    assert.equal(p.code, 0, `PBX UAS:\n${p.stdout.slice(-2500)}\n${p.stderr.slice(-1000)}`);
  },
);
