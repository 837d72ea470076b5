/**
 * A flood from one host while another places calls: SIPp on 127.0.0.3
 * sends OPTIONS at 400 per second (pike's default density is 20 per 2 s),
 * and must be banned within 2 s of its start; meanwhile SIPp on 127.0.0.2
 * places calls through Trunkline (`routes: forward` to a SIPp UAS) at 2
 * per second (6 requests per second, under the density) with 0 failed
 * calls. Bounded: the flood is 2400 requests (6 s), the calls 16.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { freePort } from '../helpers/ports.js';
import { startTrunkline } from '../helpers/server.js';
import { haveCommand, run, scenario, sippBackground } from '../helpers/sipp.js';
import { UdpPeer, cli, securityScenario, sleep } from './helpers.js';

const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';
const CALLS = 16;

test(
  'a flood from 127.0.0.3 is banned within 2 s while 127.0.0.2 places calls with 0 failures',
  { skip, timeout: 90_000 },
  async (t) => {
    const [port, uasPort, callerPort, floodPort] = [
      await freePort(),
      await freePort(),
      await freePort('127.0.0.2'),
      await freePort('127.0.0.3'),
    ];
    const server = await startTrunkline(
      [
        `listen: [udp:127.0.0.1:${port}]`,
        'routes:',
        `  - {match: {user: "^call$"}, forward: "sip:127.0.0.1:${uasPort}"}`,
        '',
      ].join('\n'),
    );
    const uas = sippBackground(scenario('uas-call.xml'), uasPort, { calls: CALLS, timeoutS: 45 });
    try {
      await sleep(300);
      const caller = run(
        'sipp',
        [
          '-sf',
          scenario('uac-call.xml'),
          `127.0.0.1:${port}`,
          '-s',
          'call',
          '-i',
          '127.0.0.2',
          '-p',
          String(callerPort),
          '-t',
          'u1',
          '-m',
          String(CALLS),
          '-r',
          '2',
          '-timeout',
          '40s',
          '-timeout_error',
          '-nostdin',
          '-nr',
        ],
        45_000,
      );
      await sleep(1500);
      const floodStart = Date.now();
      const flood = spawn(
        'sipp',
        [
          '-sf',
          securityScenario('flood-options.xml'),
          `127.0.0.1:${port}`,
          '-i',
          '127.0.0.3',
          '-p',
          String(floodPort),
          '-t',
          'u1',
          '-m',
          '2400',
          '-r',
          '400',
          '-timeout',
          '15s',
          '-nostdin',
          '-nr',
        ],
        { stdio: 'ignore' },
      );
      const floodDone = new Promise<void>((resolve) => flood.on('close', () => resolve()));
      const killer = setTimeout(() => flood.kill('SIGKILL'), 20_000);
      const [calls] = await Promise.all([caller, floodDone]);
      clearTimeout(killer);

      assert.equal(
        calls.code,
        0,
        `the caller had failed calls:\n${calls.stdout.slice(-2500)}\n${calls.stderr.slice(-1500)}`,
      );
      const banLine = server
        .output()
        .split('\n')
        .find((l) => l.includes('"msg":"ban added"') && l.includes('"ip":"127.0.0.3"'));
      assert.ok(banLine !== undefined, `no ban of the flooder:\n${server.output().slice(-3000)}`);
      const bannedAt = Date.parse((JSON.parse(banLine) as { time: string }).time);
      t.diagnostic(`flooder banned ${bannedAt - floodStart} ms after its SIPp was started`);
      assert.ok(bannedAt - floodStart <= 2000, `banned ${bannedAt - floodStart} ms after the flood started`);
      assert.ok(!server.output().includes('"ip":"127.0.0.2"'), 'the caller was never banned');
      // The flooder stays dropped; the ban is in the store, listed with its source.
      const probe = await new UdpPeer('127.0.0.3').open();
      try {
        assert.equal(await probe.ask(port, {}, 500), null);
      } finally {
        probe.close();
      }
      const listed = await cli(server.configFile, ['ban', 'list', '--json']);
      const row = (JSON.parse(listed.stdout) as Array<{ ip: string; source: string }>).find(
        (b) => b.ip === '127.0.0.3',
      );
      assert.equal(row?.source, 'flood');
      const u = await uas.done;
      assert.equal(u.code, 0, `UAS failed:\n${u.stdout.slice(-2000)}`);
    } finally {
      await uas.stop();
      await server.stop();
    }
  },
);
