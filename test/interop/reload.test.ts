import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { sipp, sippBackground, scenario, haveCommand, type BackgroundSipp, type RunResult } from '../helpers/sipp.js';
import { sleep, waitFor } from '../helpers/wait.js';

/**
 * The routing table is reloaded on SIGHUP without dropping a call in
 * progress: the call that was routed by the old table keeps its dialog
 * (ACK and BYE follow its Record-Route to the old callee), and new calls
 * follow the new table.
 */
const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';

function assertPassed(r: RunResult, what: string, server?: RunningTrunkline): void {
  assert.equal(
    r.code,
    0,
    `${what} failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}${server ? `\n--- trunkline:\n${server.output().slice(-3000)}` : ''}`,
  );
}

/** The cumulative "Successful call" count of SIPp's final statistics screen. */
function successfulCalls(stdout: string): number {
  const m = /Successful call\s+\|\s+\d+\s+\|\s+(\d+)/.exec(stdout);
  return m ? Number(m[1]) : -1;
}

test(
  'SIGHUP reloads the routes: the ringing call completes with the old callee, a new call reaches the new one',
  { skip, timeout: 20000 },
  async () => {
    const port = await freePort();
    const uasA = await freePort();
    const uasB = await freePort();
    const server = await startTrunkline(
      [
        `listen: [udp:127.0.0.1:${port}]`,
        'routes:',
        `  - {match: {user: "^call$"}, forward: "sip:127.0.0.1:${uasA}"}`,
        '',
      ].join('\n'),
    );
    let a: BackgroundSipp | undefined;
    let b: BackgroundSipp | undefined;
    try {
      // A rings 2 s before answering; B answers at once. Each takes exactly one call.
      a = sippBackground(scenario('uas-call-ring2s.xml'), uasA, { calls: 1, timeoutS: 15 });
      b = sippBackground(scenario('uas-call.xml'), uasB, { calls: 1, timeoutS: 15 });

      let firstDone = false;
      const first = sipp({
        scenario: scenario('uac-call.xml'),
        target: `127.0.0.1:${port}`,
        localPort: await freePort(),
        timeoutS: 12,
        extra: ['-s', 'call'],
      }).then((r) => {
        firstDone = true;
        return r;
      });
      // The INVITE is at A (ringing) well within this.
      await sleep(500);

      const yaml = readFileSync(server.configFile, 'utf8');
      assert.ok(yaml.includes(`sip:127.0.0.1:${uasA}`));
      writeFileSync(server.configFile, yaml.replace(`sip:127.0.0.1:${uasA}`, `sip:127.0.0.1:${uasB}`));
      server.proc.kill('SIGHUP');
      await waitFor(() => server.output().includes('"msg":"config reloaded"'), {
        timeoutMs: 5000,
        what: '"config reloaded" in the log',
        intervalMs: 25,
      });
      assert.match(server.output(), /"routes":1,"msg":"routing table reloaded"/);
      assert.equal(firstDone, false, 'the first call must still be ringing when the routes are reloaded');

      // A new call follows the new table to B.
      const second = await sipp({
        scenario: scenario('uac-call.xml'),
        target: `127.0.0.1:${port}`,
        localPort: await freePort(),
        timeoutS: 12,
        extra: ['-s', 'call'],
      });
      assertPassed(second, 'the call after the reload (UAC)', server);
      const bDone = await b.done;
      assertPassed(bDone, 'UAS B (new route)');
      assert.equal(
        successfulCalls(bDone.stdout),
        1,
        `UAS B must have taken the new call:\n${bDone.stdout.slice(-2000)}`,
      );

      // The first call is answered by A, and its ACK and BYE reach A (uas-call-ring2s.xml requires both).
      assertPassed(await first, 'the call in progress during the reload (UAC)', server);
      const aDone = await a.done;
      assertPassed(aDone, 'UAS A (old route)');
      assert.equal(
        successfulCalls(aDone.stdout),
        1,
        `UAS A must have taken the first call only:\n${aDone.stdout.slice(-2000)}`,
      );
      assert.doesNotMatch(server.output(), /reload (refused|failed)/);
    } finally {
      await a?.stop();
      await b?.stop();
      assert.equal(await server.stop(), 0, 'trunkline exit code');
    }
  },
);
