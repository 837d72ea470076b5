import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { sipp, sippBackground, scenario, scenarioWith, haveCommand } from '../helpers/sipp.js';

/**
 * Trunkline as a stateful proxy between real SIPp UACs and UASs on
 * loopback. One server, routes chosen by the dialled user (SIPp -s).
 */
const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';

let server: RunningTrunkline;
let port: number;
const uas: Record<string, number> = {};
const UAS_NAMES = [
  'stateless',
  'call',
  'tcp',
  'forkBusy',
  'forkSlow',
  'serialDead',
  'serialOk',
  'fail503',
  'failOk',
  'ring',
  'lossy',
  'refuse486',
  'refuseNext',
];

before(async () => {
  port = await freePort();
  for (const n of UAS_NAMES) uas[n] = await freePort();
  const u = (n: string, extra = ''): string => `"sip:127.0.0.1:${uas[n]}${extra}"`;
  server = await startTrunkline(
    [
      `listen: [udp:127.0.0.1:${port}, tcp:127.0.0.1:${port}]`,
      // Small T1: Timer B (64*T1) of the dead gateway fires in 6.4 s.
      'sip: {timers: {t1: 100, t2: 4000, t4: 5000}}',
      'routes:',
      `  - {match: {user: "^fork$"}, forward: [${u('forkBusy')}, ${u('forkSlow')}], mode: parallel}`,
      `  - {match: {user: "^serial$"}, forward: [${u('serialDead')}, ${u('serialOk')}], mode: serial}`,
      `  - {match: {user: "^fail503$"}, forward: [${u('fail503')}, ${u('failOk')}], mode: serial}`,
      `  - {match: {user: "^refuse$"}, forward: [${u('refuse486')}, ${u('refuseNext')}], mode: serial}`,
      `  - {match: {user: "^ring$"}, forward: ${u('ring')}}`,
      `  - {match: {user: "^lossy$"}, forward: ${u('lossy')}}`,
      `  - {match: {user: "^loop$"}, forward: "sip:127.0.0.1:${port}"}`,
      `  - {match: {user: "^tcp$"}, forward: ${u('tcp', ';transport=tcp')}}`,
      `  - {match: {user: "^stateless$"}, forward: ${u('stateless')}, stateless: true}`,
      `  - {match: {method: MESSAGE}, reply: 405}`,
      `  - {match: {user: "^call$"}, forward: ${u('call')}}`,
      '',
    ].join('\n'),
  );
});

after(async () => {
  assert.equal(await server.stop(), 0);
});

async function uac(
  scn: string,
  service: string,
  extra: string[] = [],
  transport: 'u1' | 't1' = 'u1',
  calls = 1,
): Promise<void> {
  const r = await sipp({
    scenario: scn,
    target: `127.0.0.1:${port}`,
    transport,
    localPort: await freePort(),
    calls,
    rate: 20,
    timeoutS: 20,
    extra: ['-s', service, ...extra],
  });
  assert.equal(r.code, 0, `UAC (${service}) failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
}

async function uasDone(b: ReturnType<typeof sippBackground>, what: string): Promise<void> {
  const r = await b.done;
  assert.equal(r.code, 0, `UAS ${what} failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
}

test(
  'a full call over UDP: INVITE, 100, 180, 200, ACK, BYE, 200 through the proxy (Record-Route followed)',
  { skip },
  async () => {
    const b = sippBackground(scenario('uas-call.xml'), uas.call!, { calls: 3 });
    await uac(scenario('uac-call.xml'), 'call', [], 'u1', 3);
    await uasDone(b, 'call');
  },
);

test('a full call over TCP: the UAC and the UAS both on TCP', { skip }, async () => {
  const b = sippBackground(scenario('uas-call.xml'), uas.tcp!, { transport: 't1', calls: 2 });
  await uac(scenario('uac-call.xml'), 'tcp', [], 't1', 2);
  await uasDone(b, 'tcp');
});

test('UDP in, TCP out: double Record-Route lets the in-dialog requests cross transports', { skip }, async () => {
  const b = sippBackground(scenario('uas-call.xml'), uas.tcp!, { transport: 't1', calls: 2 });
  await uac(scenario('uac-call.xml'), 'tcp', [], 'u1', 2);
  await uasDone(b, 'tcp');
});

test(
  'a stateless route (16.11): the call passes with no transaction state, responses relayed by Via',
  { skip },
  async () => {
    const b = sippBackground(scenario('uas-call.xml'), uas.stateless!, { calls: 2 });
    await uac(scenario('uac-call.xml'), 'stateless', [], 'u1', 2);
    await uasDone(b, 'stateless');
  },
);

test('CANCEL during ringing reaches the callee; the caller gets 200 and 487', { skip }, async () => {
  const b = sippBackground(scenario('uas-ring-cancel.xml'), uas.ring!);
  await uac(scenario('uac-cancel.xml'), 'ring');
  await uasDone(b, 'ring');
});

test('parallel forking: one branch answers 486, the other 200; the caller gets the 200', { skip }, async () => {
  const busy = sippBackground(scenario('uas-busy.xml'), uas.forkBusy!);
  const slow = sippBackground(scenario('uas-call-slow.xml'), uas.forkSlow!);
  await uac(scenario('uac-call.xml'), 'fork');
  await uasDone(busy, 'busy branch');
  await uasDone(slow, 'answering branch');
});

test(
  'serial failover: the first gateway never answers (Timer B), the second answers',
  { skip, timeout: 40000 },
  async () => {
    const dead = sippBackground(scenario('uas-silent.xml'), uas.serialDead!, { timeoutS: 25 });
    const ok = sippBackground(scenario('uas-call.xml'), uas.serialOk!);
    await uac(scenario('uac-call.xml'), 'serial', ['-recv_timeout', '15000']);
    await uasDone(ok, 'second gateway');
    await dead.stop();
  },
);

test('serial failover on 503: the second gateway answers', { skip }, async () => {
  const bad = sippBackground(scenario('uas-unavailable.xml'), uas.fail503!);
  const ok = sippBackground(scenario('uas-call.xml'), uas.failOk!);
  await uac(scenario('uac-call.xml'), 'fail503');
  await uasDone(bad, '503 gateway');
  await uasDone(ok, 'second gateway');
});

test('a callee refusal (486) is never retried on the next target: the caller gets 486', { skip }, async () => {
  const busy = sippBackground(scenario('uas-busy.xml'), uas.refuse486!);
  const next = sippBackground(scenario('uas-call.xml'), uas.refuseNext!, { timeoutS: 8 });
  await uac(scenarioWith('uac-expect.xml', { expect: '486', mf: '70' }), 'refuse');
  await uasDone(busy, 'busy callee');
  const r = await next.stop();
  assert.doesNotMatch(r.stdout, /INVITE ----------> +1 /, 'the next target must not have been called');
});

test(
  'UDP retransmission: the callee misses the first INVITE copy, the proxy retransmits (Timer A), the call completes',
  { skip },
  async () => {
    const b = sippBackground(scenario('uas-call-lossy.xml'), uas.lossy!);
    await uac(scenario('uac-call.xml'), 'lossy');
    await uasDone(b, 'lossy');
  },
);

test('a request that loops back through the proxy is refused 482', { skip }, async () => {
  await uac(scenarioWith('uac-expect.xml', { expect: '482', mf: '70' }), 'loop');
});

test('Max-Forwards 0 is refused 483', { skip }, async () => {
  await uac(scenarioWith('uac-expect.xml', { expect: '483', mf: '0' }), 'call');
});

test('no route for a local user: 404', { skip }, async () => {
  await uac(scenarioWith('uac-expect.xml', { expect: '404', mf: '70' }), 'nobody');
});
