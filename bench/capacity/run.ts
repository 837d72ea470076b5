/**
 * Capacity benchmark: how many concurrent anchored trunk calls one node
 * holds with the default media range (media.ports 10000-40000: 7,500 calls
 * at 4 ports a call), and what each held call costs.
 *
 *   SIPp 127.0.0.2 (trunk pbx) -> Trunkline B2BUA, media in the built-in relay -> SIPp UAS (carrier gateway)
 *
 * The UAC places --calls calls at --rate, each held for up to an hour (no RTP:
 * media.timeout is raised so that silence does not end them). Refusals are
 * ACKed and logged by the scenario with their status and Warning. When every
 * call is placed and the held count is steady, the bench reports: calls held
 * (trunkline_calls_active), refusals and the first one's reason, the open
 * files and their limit, RSS per held call, and idle CPU (no traffic) over
 * --idle seconds while holding them, divided by the calls held (an upper
 * bound per call: the server's own idle cost is in it; that one, measured
 * before the first call after --warmup seconds, is printed beside it, but
 * is noisier than the difference would need: V8's memory reducer collects
 * in the first tens of seconds of an idle process). --rtcp-mux: both SIPps offer and
 * answer a=rtcp-mux (RFC 5761), so each leg needs one socket, not two.
 * --nofile N runs Trunkline under `prlimit --nofile=N:N` (raising the hard
 * limit needs CAP_SYS_RESOURCE).
 *
 * Usage: node dist/bench/capacity/run.js [--calls 9000] [--rate 150] [--warmup 15] [--idle 20] [--rtcp-mux]
 *        [--nofile N] [--json FILE]
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/helpers/ports.js';
import { checkOptions, optionValue, type BenchOption } from '../common/options.js';
import { Child, installCleanupHandlers, stopAll } from '../common/children.js';
import { clockTicksPerSecond, loadAverage, treeCpuTicks } from '../common/procstat.js';
import { waitForOptions } from '../common/readiness.js';
import { lastCsvRow, num, sleep } from '../common/sipp.js';
import { CLI, GATEWAY_IP, TRUNK_IP, UAS_RR, outboundUacArgs, provisionTrunkCalls } from '../common/trunk-call.js';
import { openStore } from '../../src/store/index.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const UAC_HOLD = join(ROOT, 'bench', 'capacity', 'uac-hold.xml');

interface Figures {
  calls: number;
  rate: number;
  rtcpMux: boolean;
  nofile: string;
  held: number;
  refused: number;
  firstRefusal: string | null;
  openFiles: number;
  fileLimit: string;
  rssMbBefore: number;
  rssMbHeld: number;
  rssKbPerCall: number;
  idleCpuMsPerSecondBefore: number;
  idleCpuMsPerSecondHeld: number;
  /** CPU while holding, divided by the calls held (an upper bound per call). */
  idleCpuUsPerSecondPerCall: number;
}

/** A copy of a SIPp scenario in `dir` whose SDP offers or answers rtcp-mux after its telephone-event line. */
function withRtcpMux(scenario: string, dir: string, name: string): string {
  const text = readFileSync(scenario, 'utf8');
  const out = text.replace(/^(\s*)(a=rtpmap:101 telephone-event\/8000)$/m, '$1$2\n$1a=rtcp-mux');
  if (out === text) throw new Error(`${scenario}: no telephone-event line to add a=rtcp-mux after`);
  const file = join(dir, name);
  writeFileSync(file, out);
  return file;
}

const OPTIONS: BenchOption[] = [
  { name: '--calls', value: 'N', help: 'calls placed and held (default 9000)' },
  { name: '--rate', value: 'N', help: 'calls per second while placing them (default 150)' },
  {
    name: '--warmup',
    value: 'N',
    help: "seconds before the first call, the server's own idle CPU measured (default 15)",
  },
  { name: '--idle', value: 'N', help: 'seconds of idle CPU measured while holding the calls (default 20)' },
  { name: '--rtcp-mux', help: 'both SIPps offer and answer a=rtcp-mux (one socket a leg)' },
  { name: '--nofile', value: 'N', help: 'run Trunkline under prlimit --nofile=N:N' },
  { name: '--json', value: 'FILE', help: 'also write the figures as JSON' },
];

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  return m === null ? NaN : Number(m[1]) / 1024;
}

function openFiles(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** "soft/hard" of the process's open-file limit. */
function fileLimit(pid: number): string {
  const m = /Max open files\s+(\S+)\s+(\S+)/.exec(readFileSync(`/proc/${pid}/limits`, 'latin1'));
  return m === null ? '?' : `${m[1]}/${m[2]}`;
}

async function idleCpu(pid: number, seconds: number, hz: number): Promise<number> {
  const a = treeCpuTicks(pid).ticks;
  await sleep(seconds * 1000);
  return ((treeCpuTicks(pid).ticks - a) * 1000) / hz / seconds;
}

/** Live trunk calls from /metrics (trunkline_calls_active, summed over its labels). */
async function activeCalls(api: string): Promise<number> {
  const text = await (await fetch(`${api}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^trunkline_calls_active\{[^}]*\} (\d+)/gm)) n += Number(m[1]);
  return n;
}

async function startTrunkline(dir: string, nofile: string): Promise<{ child: Child; port: number; api: string }> {
  const port = await freePort();
  const apiPort = await freePort();
  const config = join(dir, 'trunkline.yaml');
  writeFileSync(
    config,
    [
      `data: ${JSON.stringify(join(dir, 'data'))}`,
      `listen: [udp:127.0.0.1:${port}]`,
      `api: {listen: 127.0.0.1:${apiPort}}`,
      'log: {level: warn}',
      'trunking: {ping: {interval: 0}}',
      // The default port range; no RTP flows in this bench, so silence must not end the calls.
      'media: {timeout: 86400}',
      '',
    ].join('\n'),
  );
  const node = [process.execPath, CLI, 'serve', '--config', config];
  const [cmd, ...args] = nofile === '' ? node : ['prlimit', `--nofile=${nofile}:${nofile}`, ...node];
  const child = new Child('trunkline', cmd!, args, join(dir, 'trunkline.log'), dir);
  await waitForOptions(port, child, 20_000);
  return { child, port, api: `http://127.0.0.1:${apiPort}` };
}

/** Waits until every call is placed and the held count has not moved for 3 s (or the UAC ended). */
async function settle(stf: string, calls: number, api: string, uac: Child): Promise<number> {
  let last = -1;
  let steadySince = Date.now();
  for (;;) {
    await sleep(1000);
    const placed = num(lastCsvRow(stf), 'TotalCallCreated');
    const held = await activeCalls(api);
    if (held !== last) {
      last = held;
      steadySince = Date.now();
    }
    if ((placed >= calls || uac.exited) && Date.now() - steadySince >= 3000) return held;
  }
}

function firstRefusal(logFile: string): { count: number; first: string | null } {
  let text = '';
  try {
    text = readFileSync(logFile, 'latin1');
  } catch {
    return { count: 0, first: null };
  }
  const lines = text.split('\n').filter((l) => l.includes('REFUSED'));
  return { count: lines.length, first: lines[0]?.slice(lines[0].indexOf('REFUSED') + 8).trim() ?? null };
}

async function main(): Promise<void> {
  checkOptions('capacity bench', 'dist/bench/capacity/run.js', OPTIONS, process.argv.slice(2));
  installCleanupHandlers();
  const calls = Number(optionValue('calls', '9000'));
  const rate = Number(optionValue('rate', '150'));
  const idleS = Number(optionValue('idle', '20'));
  const warmupS = Number(optionValue('warmup', '15'));
  const mux = process.argv.includes('--rtcp-mux');
  const nofile = optionValue('nofile', '');
  const jsonOut = optionValue('json', '');
  const hz = clockTicksPerSecond();
  const dir = mkdtempSync(join(tmpdir(), 'trunkline-bench-capacity-'));
  const say = (l: string): void => void process.stdout.write(`${l}\n`);
  say(
    `bench/capacity: ${calls} held trunk calls at ${rate}/s, media anchored (default range${mux ? ', rtcp-mux' : ''})${nofile === '' ? '' : `, prlimit --nofile=${nofile}:${nofile}`}; load ${loadAverage()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  try {
    const server = await startTrunkline(dir, nofile);
    const uasPort = await freePort();
    const store = await openStore({ kind: 'sqlite', file: join(dir, 'data', 'trunkline.db') });
    await provisionTrunkCalls(store, { trunkDest: 'sip:127.0.0.3:5060', gateways: [`sip:${GATEWAY_IP}:${uasPort}`] });
    await store.close();
    const pid = server.child.pid;
    new Child(
      'uas',
      'sipp',
      [
        '-sf',
        mux ? withRtcpMux(UAS_RR, dir, 'uas-mux.xml') : UAS_RR,
        '-i',
        GATEWAY_IP,
        '-p',
        String(uasPort),
        '-nostdin',
        '-nr',
        '-timeout',
        '3600s',
      ],
      join(dir, 'uas.log'),
      dir,
    );
    await sleep(warmupS * 1000);
    const rssBefore = rssMb(pid);
    const cpuBefore = await idleCpu(pid, idleS, hz);
    const stf = join(dir, 'uac.csv');
    const refusals = join(dir, 'uac-refusals.log');
    const uac = new Child(
      'uac',
      'sipp',
      [
        ...[
          '-sf',
          mux ? withRtcpMux(UAC_HOLD, dir, 'uac-mux.xml') : UAC_HOLD,
          `127.0.0.1:${server.port}`,
          '-i',
          TRUNK_IP,
          '-p',
          String(await freePort()),
        ],
        ...outboundUacArgs(),
        ...['-r', String(rate), '-m', String(calls), '-l', String(calls), '-d', '3600000'],
        ...['-nostdin', '-nr', '-trace_stat', '-stf', stf, '-fd', '1', '-trace_logs', '-log_file', refusals],
        ...['-timeout', '3600s', '-recv_timeout', '30000'],
      ],
      join(dir, 'uac.out'),
      dir,
    );
    say(`placing ${calls} calls...`);
    const held = await settle(stf, calls, server.api, uac);
    const r = firstRefusal(refusals);
    say(`held ${held}; measuring ${idleS} s with no traffic...`);
    const openNow = openFiles(pid);
    const rssHeld = rssMb(pid);
    const cpuHeld = await idleCpu(pid, idleS, hz);
    const f: Figures = {
      calls,
      rate,
      rtcpMux: mux,
      nofile: nofile === '' ? 'inherited' : nofile,
      held,
      refused: r.count,
      firstRefusal: r.first,
      openFiles: openNow,
      fileLimit: fileLimit(pid),
      rssMbBefore: rssBefore,
      rssMbHeld: rssHeld,
      rssKbPerCall: held > 0 ? ((rssHeld - rssBefore) * 1024) / held : NaN,
      idleCpuMsPerSecondBefore: cpuBefore,
      idleCpuMsPerSecondHeld: cpuHeld,
      idleCpuUsPerSecondPerCall: held > 0 ? (cpuHeld * 1000) / held : NaN,
    };
    say(`calls held            ${f.held} of ${calls} placed (refused ${f.refused})`);
    say(`first refusal         ${f.firstRefusal ?? 'none'}`);
    say(`open files            ${f.openFiles} (limit soft/hard ${f.fileLimit})`);
    say(
      `RSS                   ${f.rssMbBefore.toFixed(0)} MB idle, ${f.rssMbHeld.toFixed(0)} MB held: ${f.rssKbPerCall.toFixed(1)} KB a call`,
    );
    say(
      `idle CPU              ${f.idleCpuMsPerSecondBefore.toFixed(2)} ms/s with no call, ${f.idleCpuMsPerSecondHeld.toFixed(2)} ms/s holding: at most ${f.idleCpuUsPerSecondPerCall.toFixed(2)} us/s a call`,
    );
    if (jsonOut !== '') writeFileSync(jsonOut, `${JSON.stringify(f, null, 2)}\n`);
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/capacity: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
