/**
 * Registrations reachable from any node: a phone (SIPp, one TCP
 * connection) registers at node 1 and is called through node 3; node 3
 * routes the INVITE through node 1 (a Route with a flow token), which
 * delivers it on the phone's own connection. Node 1 killed with -9, a call
 * through node 3 gets 480 at once and the binding leaves the store.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { clusterSkip, startClusterRig, type ClusterRig } from '../helpers/cluster.js';
import { CLI } from '../helpers/server.js';
import { freePort } from '../helpers/ports.js';
import { haveCommand, run, scenario, scenarioWith, sipp, sippBackground } from '../helpers/sipp.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { openStore, type Store } from '../../src/store/index.js';

const DOMAIN = 'example.test';
const AOR = `phone@${DOMAIN}`;
const PHONE_IP = '127.0.0.11';
const CALLER_IP = '127.0.0.12';
const CARRIER_IP = '127.0.0.13';
const PBX_IP = '127.0.0.14';
const DID = '+912240001000';

const skip = !haveCommand('sipp') ? 'sipp not installed (scripts/install-deps.sh)' : await clusterSkip();
let rig: ClusterRig;
let store: Store;

before(async () => {
  if (skip !== false) return;
  rig = await startClusterRig({ nodes: 3, extraYaml: () => 'registrar: {algorithms: MD5}' });
  const d = await rig.cli(['domain', 'add', DOMAIN]);
  assert.equal(d.code, 0, d.stderr);
  const s = await run(
    process.execPath,
    [CLI, 'subscriber', 'add', AOR, '--password-stdin', '--config', rig.node(1).configFile],
    20_000,
    { input: 'phone-pw\n' },
  );
  assert.equal(s.code, 0, s.stderr);
  store = await openStore({ kind: 'postgres', url: rig.databaseUrl }, { env: {} });
});

after(async () => {
  await store?.close();
  await rig?.stop();
});

interface StatusNode {
  id: string;
  registrations: number;
}

async function registrationsOf(id: string): Promise<number | undefined> {
  const r = await rig.cli(['cluster', 'status', '--json'], 2);
  if (r.code !== 0) return undefined;
  return (JSON.parse(r.stdout) as { nodes: StatusNode[] }).nodes.find((n) => n.id === id)?.registrations;
}

/** The established TCP connections of a local address, as `peer` strings (`ss`). */
function connectionsOf(ip: string, port: number): string[] {
  const r = spawnSync('ss', ['-Htn', 'state', 'established', `( src ${ip}:${port} )`], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 4)
    .map((f) => f[f.length - 1]!);
}

function logs(): string {
  return rig.nodes.map((n) => `--- ${n.id}\n${n.output().slice(-4000)}`).join('\n');
}

test(
  'a phone registered over TCP at node 1 is called through node 3, on its own connection',
  { skip, timeout: 60_000 },
  async (t) => {
    const phonePort = await freePort(PHONE_IP);
    const deadPort = await freePort(PHONE_IP); // the Contact's port: nothing listens there
    const callId = `regs-${randomBytes(4).toString('hex')}-%u`;
    const phone = sippBackground(
      scenarioWith('phone-register-answer.xml', { domain: DOMAIN, contact_port: String(deadPort), linger: '1500' }),
      phonePort,
      {
        transport: 't1',
        ip: PHONE_IP,
        timeoutS: 20,
        extra: [
          `127.0.0.1:${rig.node(1).sipPort}`,
          ...['-s', 'phone', '-au', 'phone', '-ap', 'phone-pw', '-auth_uri', DOMAIN, '-cid_str', callId],
        ],
      },
    );
    // Failed or not, the phone does not outlive the test (a no-op once it ended by itself).
    t.after(() => phone.stop());
    const [b] = await waitFor(
      async () => {
        const l = await store.location.listForAor(AOR);
        return l.length > 0 ? l : null;
      },
      { timeoutMs: 10_000, what: 'the phone bound', intervalMs: 50, detail: logs },
    );
    assert.equal(b!.proto, 'tcp');
    assert.equal(b!.contact, `sip:phone@${PHONE_IP}:${deadPort};transport=tcp`);
    assert.equal(b!.received, `sip:${PHONE_IP}:${phonePort};transport=tcp`);
    assert.equal(b!.ownerNode, 'n1');
    const listed = await rig.node(2).api('/api/v1/location');
    assert.deepEqual(
      (listed.body as Array<{ aor: string; node: string | null }>).map((x) => [x.aor, x.node]),
      [[AOR, 'n1']],
    );

    const t0 = Date.now();
    const caller = await sipp({
      scenario: scenarioWith('registrar-uac-call.xml', { domain: DOMAIN }),
      target: `127.0.0.3:${rig.node(3).sipPort}`,
      ip: CALLER_IP,
      localPort: await freePort(CALLER_IP),
      timeoutS: 15,
      extra: ['-s', 'phone', '-cid_str', callId],
    });
    assert.equal(caller.code, 0, `the call failed:\n${caller.stdout}\n${caller.stderr}\n${logs()}`);
    t.diagnostic(`call through node 3 to the phone at node 1: ${Date.now() - t0} ms (SIPp run, INVITE to BYE's 200)`);
    // The phone lingers connected: its one connection, to node 1, carried the call.
    assert.deepEqual(connectionsOf(PHONE_IP, phonePort), [`127.0.0.1:${rig.node(1).sipPort}`]);
    const p = await phone.done;
    assert.equal(p.code, 0, `the phone failed:\n${p.stdout}\n${p.stderr}\n${logs()}`);

    // The figures: node 1 holds the registration, node 3 none.
    const t1 = Date.now();
    await waitFor(async () => (await registrationsOf('n1')) === 1, {
      timeoutMs: 15_000,
      what: 'n1 showing 1 registration',
      intervalMs: 250,
    });
    t.diagnostic(`n1's registrations figure 1 after ${Date.now() - t1} ms more`);
    assert.equal(await registrationsOf('n3'), 0);
  },
);

test(
  'a registration trunk whose PBX registered over TCP at node 1 takes a carrier call to its DID through node 3',
  { skip, timeout: 60_000 },
  async (t) => {
    await store.accounts.add({ name: 'acme' });
    await store.domains.add('pbx.test');
    await store.subscribers.add('regpbx', 'pbx.test', 'regpbx-pw');
    await store.trunks.add({ name: 'regtrunk', account: 'acme', register: 'regpbx@pbx.test' });
    await store.dids.add(DID, 'regtrunk');
    await store.carriers.add({ name: 'main', gateways: [`sip:${CARRIER_IP}:5060`] });
    const pbxPort = await freePort(PBX_IP);
    const pbx = sippBackground(scenarioWith('register-linger.xml', { domain: 'pbx.test', linger: '6000' }), pbxPort, {
      transport: 't1',
      ip: PBX_IP,
      timeoutS: 20,
      extra: [
        `127.0.0.1:${rig.node(1).sipPort}`,
        ...['-s', 'regpbx', '-au', 'regpbx', '-ap', 'regpbx-pw', '-auth_uri', 'pbx.test'],
        ...['-oocsf', scenario('uas-call.xml')],
      ],
    });
    t.after(() => pbx.stop());
    const [b] = await waitFor(
      async () => {
        const l = await store.location.listForAor('regpbx@pbx.test');
        return l.length > 0 ? l : null;
      },
      { timeoutMs: 10_000, what: 'the PBX bound', intervalMs: 50, detail: logs },
    );
    assert.equal(b!.ownerNode, 'n1');
    // The nodes see the new trunk, DID and carrier within 2 s (they poll the store every second).
    await sleep(2200);
    const t0 = Date.now();
    const carrier = await sipp({
      scenario: scenarioWith('trunk-uac-call.xml', {
        caller: '+15551230000',
        hidden: 'X-Internal-Secret',
        hiddenAddr: '127\\.0\\.0\\.14',
        hold: '0',
      }),
      target: `127.0.0.3:${rig.node(3).sipPort}`,
      ip: CARRIER_IP,
      localPort: await freePort(CARRIER_IP),
      timeoutS: 15,
      extra: ['-s', DID],
    });
    assert.equal(
      carrier.code,
      0,
      `the carrier's call failed:\n${carrier.stdout.slice(-3000)}\n${carrier.stderr}\n${logs()}`,
    );
    t.diagnostic(`carrier call through node 3 to the PBX at node 1: ${Date.now() - t0} ms`);
    assert.deepEqual(connectionsOf(PBX_IP, pbxPort), [`127.0.0.1:${rig.node(1).sipPort}`]);
    await pbx.stop();
  },
);

test(
  'node 1 killed: a call through node 3 gets 480 within 1 s, the binding is dropped',
  { skip, timeout: 60_000 },
  async (t) => {
    assert.equal((await store.location.listForAor(AOR)).length, 1);
    await rig.node(1).kill9();
    const expect480 = async (): Promise<number> => {
      const t0 = Date.now();
      const r = await sipp({
        scenario: scenarioWith('registrar-uac-expect.xml', { domain: DOMAIN, expect: '480' }),
        target: `127.0.0.3:${rig.node(3).sipPort}`,
        ip: CALLER_IP,
        localPort: await freePort(CALLER_IP),
        timeoutS: 5,
        extra: ['-s', 'phone', '-key', 'mf', '70'],
      });
      const ms = Date.now() - t0;
      assert.equal(r.code, 0, `no 480:\n${r.stdout}\n${r.stderr}\n${logs()}`);
      return ms;
    };
    // At once (node 3 may not know yet that node 1 is gone: the forward fails fast) ...
    const killed = Date.now();
    const first = await expect480();
    t.diagnostic(`480 right after the kill: ${first} ms`);
    assert.ok(first < 1000, `480 after ${first} ms`);
    // ... and the binding is dropped once node 3 sees node 1 gone (at most 4 s after the kill).
    await waitFor(async () => (await store.location.listForAor(AOR)).length === 0, {
      timeoutMs: 8000,
      what: 'the binding dropped',
      intervalMs: 100,
      detail: logs,
    });
    t.diagnostic(`binding dropped ${Date.now() - killed} ms after the kill`);
    const second = await expect480();
    t.diagnostic(`480 once node 1 is known gone: ${second} ms`);
    assert.ok(second < 1000, `480 after ${second} ms`);
  },
);
