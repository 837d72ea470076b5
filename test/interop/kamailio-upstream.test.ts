import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { sipp, sippBackground, scenario, scenarioWith, haveCommand } from '../helpers/sipp.js';
import { startKamailio, kamailioSkipReason, type RunningKamailio } from '../helpers/kamailio.js';

/**
 * Kamailio (the Debian package) as the hop before Trunkline:
 *
 *   SIPp UAC --UDP--> Kamailio --UDP--> Trunkline --UDP--> SIPp UAS
 *
 * Kamailio logs every reply it receives with all its Vias (KREPLY lines),
 * which shows what a lenient SIPp caller does not check: whether Trunkline
 * took its own Via off a response before sending it upstream.
 */
const skip = (!haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)') || kamailioSkipReason();

let server: RunningTrunkline | undefined;
let kamailio: RunningKamailio | undefined;
let port: number;
let kPort: number;
let callPort: number;
let busyPort: number;

before(async () => {
  if (skip) return;
  port = await freePort();
  kPort = await freePort();
  callPort = await freePort();
  busyPort = await freePort();
  server = await startTrunkline(
    [
      `listen: [udp:127.0.0.1:${port}]`,
      'routes:',
      `  - {match: {user: "^call$"}, forward: "sip:127.0.0.1:${callPort}"}`,
      `  - {match: {user: "^busy$"}, forward: "sip:127.0.0.1:${busyPort}"}`,
      '',
    ].join('\n'),
  );
  kamailio = await startKamailio({ udpPort: kPort, uas: `sip:127.0.0.1:${port}` });
});

after(async () => {
  try {
    await kamailio?.stop();
  } finally {
    if (server !== undefined) assert.equal(await server.stop(), 0, 'trunkline exit code');
  }
});

test(
  'full calls through Kamailio then Trunkline: both record-route, ACK and BYE cross both',
  { skip, timeout: 15000 },
  async () => {
    const CALLS = 3;
    const uas = sippBackground(scenario('uas-call.xml'), callPort, {
      calls: CALLS,
      timeoutS: 12,
      extra: ['-timeout_error'],
    });
    try {
      const r = await sipp({
        scenario: scenario('uac-call.xml'),
        target: `127.0.0.1:${kPort}`,
        localPort: await freePort(),
        calls: CALLS,
        rate: 10,
        timeoutS: 10,
        extra: ['-s', 'call'],
      });
      assert.equal(
        r.code,
        0,
        `UAC failed:\n${r.stdout.slice(-3000)}\n--- kamailio:\n${kamailio!.output().slice(-3000)}`,
      );
      const u = await uas.done;
      assert.equal(u.code, 0, `UAS failed:\n${u.stdout.slice(-3000)}`);
      const hops = kamailio!.hops();
      for (const m of ['INVITE', 'ACK', 'BYE'])
        assert.equal(hops.filter((h) => h.startsWith(`KHOP ${m} `)).length, CALLS, hops.join('\n'));
    } finally {
      await uas.stop();
    }
  },
);

test(
  "a callee's 486 reaches Kamailio with Kamailio's Via on top (Trunkline took its own off, RFC 3261 16.7 step 3), and the caller",
  {
    skip,
    timeout: 15000,
  },
  async () => {
    const uas = sippBackground(scenario('uas-busy.xml'), busyPort, { timeoutS: 8 });
    try {
      const r = await sipp({
        scenario: scenarioWith('uac-expect.xml', { expect: '486', mf: '70' }),
        target: `127.0.0.1:${kPort}`,
        localPort: await freePort(),
        timeoutS: 5,
        extra: ['-s', 'busy'],
      });
      assert.equal(
        r.code,
        0,
        `the caller never got the 486:\n${r.stdout.slice(-2500)}\n--- kamailio:\n${kamailio!.output().slice(-2000)}`,
      );
    } finally {
      await uas.stop();
    }
    // Replies Kamailio received from Trunkline (its reply_route logs each one with every Via).
    const fromTrunkline = kamailio!
      .replies()
      .filter((l) => l.startsWith('KREPLY 486 ') && l.includes(` src=127.0.0.1:${port} `));
    assert.ok(fromTrunkline.length >= 1, kamailio!.replies().join('\n'));
    for (const l of fromTrunkline) assert.match(l, new RegExp(`via=\\[SIP/2\\.0/UDP 127\\.0\\.0\\.1:${kPort};`), l);
  },
);
