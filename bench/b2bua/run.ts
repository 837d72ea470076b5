/**
 * B2BUA benchmark: one Trunkline, the same SIPp call (INVITE, 180, 200, ACK,
 * BYE, 200; uas-rr.xml behind, a dialog-correct UAC in front) carried three
 * ways in one run, at the same rates, one after the other:
 *
 *   proxy:    SIPp 127.0.0.1 -> Trunkline (a `routes:` forward) -> SIPp UAS
 *   inbound:  SIPp 127.0.0.5 (a carrier gateway) -> DID -> B2BUA -> trunk dest (SIPp UAS)
 *   outbound: SIPp 127.0.0.2 (a static-IP trunk, owned caller ID) -> B2BUA -> carrier gateway (SIPp UAS)
 *
 * CPU: utime+stime of Trunkline's process (all threads) from /proc, sampled
 * before the UAC starts and after the UAS has seen every call end; ms per
 * call = difference / calls placed. The report prints each mode's figure
 * beside the proxy's from the same run, as a ratio. Target: B2BUA
 * CPU per call at most 2x the proxy's. `--media none` measures the B2BUA's
 * signalling alone (SDP passed unchanged); the default anchors every call's
 * media in the built-in relay (four UDP sockets per call).
 *
 * The peer, in the same run, on the same SIPp call:
 *
 *   kamailio-rtpengine: SIPp 127.0.0.1 -> Kamailio (record-routing, rtpengine_offer/answer/delete)
 *                       -> SIPp UAS 127.0.0.7; media anchored in rtpengine (kamailio-rtpengine.ts)
 *
 * Its CPU per call is Kamailio's process tree plus rtpengine's, summed; the
 * report prints each B2BUA mode beside it as a ratio. Target: B2BUA CPU per
 * call at most 1.5x Kamailio + rtpengine's. Before the warm-up, one traced
 * call per mode (media-check.ts) shows whether the SDP of the offer and of
 * the answer was rewritten to the relay's ports: SIPp sends no RTP in any mode.
 *
 * Usage: node dist/bench/b2bua/run.js [--rates 100,200,300] [--seconds 10] [--warmup 3] [--json FILE]
 *        [--media builtin|none] [--modes proxy,inbound,outbound,kamailio-rtpengine]
 *        [--node-args "--cpu-prof --cpu-prof-dir=/tmp/prof"]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../test/helpers/ports.js';
import { clockTicksPerSecond, loadAverage, treeCpuTicks } from '../common/procstat.js';
import { lastCsvRow, num } from '../common/sipp.js';
import {
  CLI,
  DID,
  GATEWAY_IP,
  OUTBOUND_NUMBER,
  TRUNK_IP,
  UAC_TRUNK as UAC,
  UAS_RR as UAS,
  provisionTrunkCalls,
} from '../common/trunk-call.js';
import { openStore } from '../../src/store/index.js';
import { installCleanupHandlers } from '../common/children.js';
import { checkOptions, optionValue, type BenchOption } from '../common/options.js';
import { RTPENGINE_PORTS, startKamailioRtpengine, type KamailioRtpengine } from './kamailio-rtpengine.js';
import { checkMedia, describeCheck, type MediaCheck } from './media-check.js';
import { ALL_MODES, PEER, printReport, type Mode, type Step } from './report.js';

/** The built-in relay's media ports in this bench. */
const TRUNKLINE_PORTS = { min: 41000, max: 49000 };

const OPTIONS: BenchOption[] = [
  { name: '--rates', value: 'LIST', help: 'calls per second, comma-separated (default 100,200,300)' },
  { name: '--seconds', value: 'N', help: 'seconds per rate (default 10)' },
  { name: '--warmup', value: 'N', help: 'seconds at the lowest rate before the steps, not reported (default 3)' },
  { name: '--modes', value: 'LIST', help: `of ${ALL_MODES.join(',')} (default all)` },
  {
    name: '--media',
    value: 'builtin|none',
    help: 'anchor media in the built-in relay (default) or pass SDP unchanged',
  },
  {
    name: '--node-args',
    value: 'ARGS',
    help: 'extra node options for Trunkline (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")',
  },
  { name: '--json', value: 'FILE', help: 'also write the steps, checks and verdicts as JSON' },
];

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function spawnSipp(args: string[], log: string): { child: ChildProcess; done: Promise<number | null> } {
  const child = spawn('sipp', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      writeFileSync(log, out);
      resolve(code);
    }),
  );
  return { child, done };
}

async function startServer(
  dir: string,
  port: number,
  uasProxy: number,
): Promise<{ child: ChildProcess; stop: () => Promise<void> }> {
  const config = join(dir, 'trunkline.yaml');
  writeFileSync(
    config,
    [
      `data: ${JSON.stringify(join(dir, 'data'))}`,
      `listen: [udp:127.0.0.1:${port}]`,
      `api: {listen: 127.0.0.1:${await freePort()}}`,
      'trunking: {ping: {interval: 0}}',
      `media: {engine: ${optionValue('media', 'builtin')}, ports: ${TRUNKLINE_PORTS.min}-${TRUNKLINE_PORTS.max}}`,
      'routes:',
      `  - {match: {user: "^proxy$"}, forward: "sip:127.0.0.1:${uasProxy}"}`,
      '',
    ].join('\n'),
  );
  const nodeArgs = optionValue('node-args', '')
    .split(' ')
    .filter((a) => a !== '');
  const child = spawn(process.execPath, [...nodeArgs, CLI, 'serve', '--config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  for (let i = 0; i < 100 && !out.includes('trunkline started'); i++) await sleep(100);
  if (!out.includes('trunkline started')) throw new Error(`trunkline did not start:\n${out}`);
  return {
    child,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('close', r));
    },
  };
}

interface StepRun {
  mode: Mode;
  rate: number;
  calls: number;
  secs: number;
  /** Log every message of both SIPps (the media check's one call). */
  trace?: boolean;
}

/** Where each mode's calls go and whose CPU they cost. */
interface Targets {
  port: Record<Mode, number>;
  uas: Record<Mode, number>;
  /** CPU ticks of each server the mode's calls cross, by name. */
  cpuTicks: (mode: Mode) => Record<string, number>;
}

const uasIp: Record<Mode, string> = {
  proxy: '127.0.0.1',
  inbound: '127.0.0.3',
  outbound: GATEWAY_IP,
  'kamailio-rtpengine': '127.0.0.7',
};
const uacIp: Record<Mode, string> = {
  proxy: '127.0.0.1',
  inbound: '127.0.0.5',
  outbound: TRUNK_IP,
  'kamailio-rtpengine': '127.0.0.1',
};
const service: Record<Mode, string> = {
  proxy: 'proxy',
  inbound: DID,
  outbound: OUTBOUND_NUMBER,
  'kamailio-rtpengine': OUTBOUND_NUMBER,
};

/** One step: the UAS, then the UAC at the rate; CPU of the mode's servers from just before the UAC to after the UAS. */
async function runStep(dir: string, t: Targets, r: StepRun, hz: number): Promise<Step> {
  const { mode, rate, calls, secs } = r;
  const tag = `${mode}-${rate}-${secs}${r.trace ? '-check' : ''}`;
  const trace = (who: string): string[] =>
    r.trace ? ['-trace_msg', '-message_file', join(dir, `${who}-${tag}.msg`)] : [];
  const uasRun = spawnSipp(
    [
      '-sf',
      UAS,
      '-i',
      uasIp[mode],
      '-p',
      String(t.uas[mode]),
      '-m',
      String(calls),
      '-nostdin',
      '-nr',
      '-timeout',
      `${secs + 60}s`,
      ...trace('uas'),
    ],
    join(dir, `uas-${tag}.log`),
  );
  await sleep(300);
  const before = t.cpuTicks(mode);
  const stf = join(dir, `uac-${tag}.csv`);
  const uacRun = spawnSipp(
    [
      '-sf',
      UAC,
      `127.0.0.1:${t.port[mode]}`,
      '-i',
      uacIp[mode],
      '-p',
      String(await freePort()),
      '-s',
      service[mode],
      '-key',
      'caller',
      DID,
      '-r',
      String(rate),
      '-m',
      String(calls),
      '-l',
      String(rate * 4),
      '-recv_timeout',
      '10000',
      '-nostdin',
      '-nr',
      '-trace_stat',
      '-stf',
      stf,
      '-fd',
      '1',
      '-timeout',
      `${secs + 40}s`,
      ...trace('uac'),
    ],
    join(dir, `uac-${tag}.log`),
  );
  await uacRun.done;
  // The UAS ends after its last call's timewait; a stuck one is stopped after 15 s (the timer then cleared,
  // so that it does not hold the process open at the end).
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([uasRun.done, new Promise((r) => (timer = setTimeout(r, 15_000)))]);
  clearTimeout(timer);
  uasRun.child.kill('SIGTERM');
  await sleep(500);
  const after = t.cpuTicks(mode);
  const parts: Record<string, number> = {};
  for (const [name, ticks] of Object.entries(after)) parts[name] = ((ticks - (before[name] ?? 0)) * 1000) / hz / calls;
  const row = lastCsvRow(stf);
  return {
    mode,
    rate,
    calls,
    successful: num(row, 'SuccessfulCall(C)'),
    failed: calls - num(row, 'SuccessfulCall(C)'),
    retransmissions: num(row, 'Retransmissions(C)'),
    cpuMsPerCall: Object.values(parts).reduce((a, b) => a + b, 0),
    partsMsPerCall: parts,
  };
}

/** One traced call: is the mode's SDP rewritten to its relay's ports (offer and answer)? */
async function mediaCheck(dir: string, t: Targets, mode: Mode, hz: number): Promise<MediaCheck> {
  await runStep(dir, t, { mode, rate: 1, calls: 1, secs: 1, trace: true }, hz);
  const tag = `${mode}-1-1-check`;
  const range = mode === PEER ? RTPENGINE_PORTS : TRUNKLINE_PORTS;
  return checkMedia(join(dir, `uac-${tag}.msg`), join(dir, `uas-${tag}.msg`), range);
}

/** A step's progress line; the peer's CPU also split between Kamailio and rtpengine. */
function stepLine(s: Step): string {
  const parts = Object.entries(s.partsMsPerCall);
  const split = parts.length > 1 ? ` (${parts.map(([n, v]) => `${n} ${v.toFixed(3)}`).join(', ')})` : '';
  return `${s.mode.padEnd(18)} ${String(s.rate).padStart(4)}/s  ok ${s.successful}/${s.calls}  retrans ${s.retransmissions}  cpu ${s.cpuMsPerCall.toFixed(3)} ms/call${split}\n`;
}

async function main(): Promise<void> {
  checkOptions('b2bua bench', 'dist/bench/b2bua/run.js', OPTIONS, process.argv.slice(2));
  installCleanupHandlers();
  const rates = optionValue('rates', '100,200,300').split(',').map(Number);
  const seconds = Number(optionValue('seconds', '10'));
  const jsonOut = optionValue('json', '');
  const MODES = optionValue('modes', ALL_MODES.join(',')).split(',') as Mode[];
  for (const m of MODES) if (!ALL_MODES.includes(m)) throw new Error(`unknown mode ${m} (${ALL_MODES.join(', ')})`);
  const dir = mkdtempSync(join(tmpdir(), 'trunkline-bench-b2bua-'));
  const port = await freePort();
  const uas = {} as Record<Mode, number>;
  for (const m of ALL_MODES) uas[m] = await freePort();
  const server = await startServer(dir, port, uas.proxy);
  const store = await openStore({ kind: 'sqlite', file: join(dir, 'data', 'trunkline.db') });
  await provisionTrunkCalls(store, {
    trunkDest: `sip:127.0.0.3:${uas.inbound}`,
    gateways: [`sip:${GATEWAY_IP}:${uas.outbound}`, 'sip:127.0.0.5:5060'],
  });
  await store.close();
  let peer: KamailioRtpengine | undefined;
  const hz = clockTicksPerSecond();
  const steps: Step[] = [];
  const checks: Partial<Record<Mode, MediaCheck>> = {};
  const warmupSeconds = Number(optionValue('warmup', '3'));
  // Warm-up (not reported): the JIT and the allocators settle on every path first.
  const ladder: Array<{ rate: number; secs: number; report: boolean }> = [
    ...(warmupSeconds > 0 ? [{ rate: rates[0]!, secs: warmupSeconds, report: false }] : []),
    ...rates.map((rate) => ({ rate, secs: seconds, report: true })),
  ];
  try {
    // The peer starts while Trunkline takes in the provisioning.
    const settled = sleep(2500);
    if (MODES.includes(PEER)) peer = await startKamailioRtpengine({ dir, uas: `sip:${uasIp[PEER]}:${uas[PEER]}` });
    await settled;
    const p = peer;
    const targets: Targets = {
      port: { proxy: port, inbound: port, outbound: port, 'kamailio-rtpengine': p?.port ?? 0 },
      uas,
      cpuTicks: (mode) => (mode === PEER ? p!.cpuTicks() : { trunkline: treeCpuTicks(server.child.pid!).ticks }),
    };
    // The proxy relays SDP as it is: only the B2BUA modes and the peer anchor media. One call each, all at once.
    const checked = MODES.filter((m) => m !== 'proxy');
    const results = await Promise.all(checked.map((mode) => mediaCheck(dir, targets, mode, hz)));
    checked.forEach((mode, i) => {
      checks[mode] = results[i]!;
      process.stdout.write(`media ${mode.padEnd(18)} ${describeCheck(results[i]!)}\n`);
    });
    for (const { rate, secs, report } of ladder) {
      for (const mode of MODES) {
        const step = await runStep(dir, targets, { mode, rate, calls: rate * secs, secs }, hz);
        if (!report) continue;
        steps.push(step);
        process.stdout.write(stepLine(step));
      }
    }
  } finally {
    await peer?.stop();
    await server.stop();
  }
  const load = loadAverage();
  const verdicts = printReport((l) => process.stdout.write(l), steps, rates, load, optionValue('media', 'builtin'));
  if (jsonOut !== '')
    writeFileSync(
      jsonOut,
      JSON.stringify({ media: optionValue('media', 'builtin'), steps, checks, verdicts, load }, null, 2),
    );
  rmSync(dir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/b2bua: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
