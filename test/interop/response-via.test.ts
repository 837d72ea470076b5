import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { sipp, sippBackground, scenario, scenarioWith, haveCommand } from '../helpers/sipp.js';

/**
 * RFC 3261 16.7 step 3: a proxy removes its own Via from every response it
 * sends upstream, so the caller (or the proxy before Trunkline) finds its
 * own Via on top. uac-expect-via.xml checks that the top Via of the final
 * response is the SIPp caller's.
 * The second test covers the best final non-2xx response of a forwarded
 * request (kept in the proxy's `finals` until every branch is done).
 */
const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';

let server: RunningTrunkline | undefined;
let port: number;
let busyPort: number;

before(async () => {
  if (skip) return;
  port = await freePort();
  busyPort = await freePort();
  server = await startTrunkline(
    [
      `listen: [udp:127.0.0.1:${port}]`,
      'routes:',
      `  - {match: {user: "^busy$"}, forward: "sip:127.0.0.1:${busyPort}"}`,
      '',
    ].join('\n'),
  );
});

after(async () => {
  if (server !== undefined) assert.equal(await server.stop(), 0, 'trunkline exit code');
});

async function expectWithOwnVia(service: string, status: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'trunkline-via-'));
  const trace = join(dir, 'messages.log');
  try {
    const r = await sipp({
      scenario: scenarioWith('uac-expect-via.xml', { expect: status, mf: '70' }),
      target: `127.0.0.1:${port}`,
      localPort: await freePort(),
      timeoutS: 5,
      extra: ['-s', service, '-trace_msg', '-message_file', trace],
    });
    let messages = '';
    try {
      messages = readFileSync(trace, 'utf8');
    } catch {
      /* no trace */
    }
    assert.equal(
      r.code,
      0,
      `UAC (${service}) failed: the ${status} must come with the caller's own Via on top. Messages the UAC exchanged:\n${messages.slice(-3000)}\n${r.stderr.slice(-1500)}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("a response Trunkline makes itself (404, no route) carries the caller's Via on top", { skip }, async () => {
  await expectWithOwnVia('nobody', '404');
});

test(
  "a callee's refusal (486) relayed by Trunkline has Trunkline's Via removed (RFC 3261 16.7 step 3)",
  {
    skip,
  },
  async () => {
    const busy = sippBackground(scenario('uas-busy.xml'), busyPort, { timeoutS: 8 });
    try {
      await expectWithOwnVia('busy', '486');
    } finally {
      await busy.stop();
    }
  },
);
