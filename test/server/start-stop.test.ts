/**
 * The server's parts, started and stopped (src/server/parts.ts): a start
 * that fails late (the API address taken) stops every part already started,
 * as does a SIP listener that cannot bind, and a stop ends them all. Each
 * case runs in a process of its own (lifecycle-child.ts), which must then
 * end by itself: nothing left keeps it alive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LifecycleReport } from './lifecycle-child.js';

const CHILD = fileURLToPath(new URL('./lifecycle-child.js', import.meta.url));
/** How long the child may take to end by itself once it printed its report. */
const EXIT_MS = 5000;

/** Runs the child; its report, and whether it ended by itself within EXIT_MS of the report (else it is killed). */
async function run(
  mode: string,
): Promise<{ report: LifecycleReport; exitedByItself: boolean; code: number | null; out: string }> {
  const child = spawn(process.execPath, [CHILD, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let reported: () => void = () => undefined;
  const reportSeen = new Promise<void>((r) => (reported = r));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('\n')) reported();
  });
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await Promise.race([reportSeen, exited, new Promise((r) => setTimeout(r, 25_000).unref())]);
  const byItself = await Promise.race([
    exited.then(() => true),
    new Promise<false>((r) => setTimeout(() => r(false), EXIT_MS).unref()),
  ]);
  if (!byItself) child.kill('SIGKILL');
  const code = await exited;
  const line = out.split('\n').find((l) => l.startsWith('{'));
  assert.ok(line !== undefined, `no report from the child:\n${out}`);
  return { report: JSON.parse(line) as LifecycleReport, exitedByItself: byItself, code, out };
}

function assertNothingLeft(r: Awaited<ReturnType<typeof run>>): void {
  const log = r.report.log.join('\n');
  assert.deepEqual(r.report.handles, [], `handles left:\n${log}`);
  assert.doesNotMatch(log, /store failed|reload failed|not open/, 'no part still polls the closed store');
  assert.equal(r.report.udpFree, true, 'the SIP UDP port binds again');
  assert.equal(r.report.tcpFree, true, 'the SIP TCP port binds again');
  assert.equal(r.report.controlSocket, false, 'no control socket left');
  assert.equal(r.report.pidFile, false, 'no pid file left');
  assert.equal(r.exitedByItself, true, `the process did not end by itself within ${EXIT_MS} ms:\n${log}`);
  assert.equal(r.code, 0, r.out);
}

test(
  'a late start failure (api.listen taken) stops every part started: ports free, no control socket, the process ends by itself',
  { timeout: 40_000 },
  async () => {
    const r = await run('late-failure');
    assert.match(r.report.startError ?? '(started)', /^api\.listen 127\.0\.0\.1:\d+: address in use$/);
    const before = PARTS.slice(0, PARTS.indexOf('operations'));
    assert.deepEqual(r.report.started, before);
    assert.deepEqual(
      r.report.stopped,
      [...before].reverse(),
      'every part started before operations is stopped, last first',
    );
    assertNothingLeft(r);
  },
);

test(
  'a SIP listener that cannot bind refuses the start, naming it; nothing of the start is left',
  { timeout: 40_000 },
  async () => {
    const r = await run('listener-failure');
    assert.match(r.report.startError ?? '(started)', /^tcp:127\.0\.0\.1:\d+: /);
    assert.deepEqual(r.report.stopped, ['expired bindings purge', 'security edge', 'store']);
    assertNothingLeft(r);
  },
);

/** The parts in start order (src/server/index.ts). */
const PARTS = [
  'store',
  'security edge',
  'expired bindings purge',
  'SIP listeners',
  'transaction layer',
  'media engine',
  'routing module',
  'B2BUA',
  'transactions in flight',
  'control socket',
  'trunking directory',
  'request pipeline',
  'carrier registrations',
  'gateway monitor',
  'carrier quality',
  'NAT keep-alive',
  'operations',
  'admission',
];

test(
  'start then stop: every part ends (ports free, control socket and pid file gone), in the reverse order, admission first; stop() twice is one stop',
  { timeout: 40_000 },
  async () => {
    const r = await run('start-stop');
    assert.equal(r.report.startError, null, r.report.log.join('\n'));
    assert.deepEqual(r.report.started, PARTS);
    // Shutdown: no new calls and the calls up ended first, then operations, the periodic parts, the bounded waits, then closing.
    assert.deepEqual(r.report.stopped, [...PARTS].reverse());
    assert.deepEqual(r.report.whileRunning, { control: true, pidFile: true, sipTaken: true });
    assert.equal(r.report.stopOnce, true);
    assertNothingLeft(r);
  },
);
