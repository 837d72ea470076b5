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
 * Usage: node dist/bench/b2bua/run.js [--rates 100,200,300] [--seconds 10] [--warmup 3] [--json FILE]
 *        [--media builtin|none] [--modes proxy,inbound,outbound] [--node-args "--cpu-prof --cpu-prof-dir=/tmp/prof"]
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

type Mode = 'proxy' | 'inbound' | 'outbound';
const ALL_MODES: Mode[] = ['proxy', 'inbound', 'outbound'];

interface Step {
  mode: Mode;
  rate: number;
  calls: number;
  successful: number;
  failed: number;
  retransmissions: number;
  cpuMsPerCall: number;
}

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}

/** A figure of the table, or n/a for a mode that was not run. */
function figure(v: number): string {
  return Number.isFinite(v) ? v.toFixed(3) : 'n/a';
}

function times(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}x` : 'n/a';
}

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
      `media: {engine: ${arg('media', 'builtin')}, ports: 41000-49000}`,
      'routes:',
      `  - {match: {user: "^proxy$"}, forward: "sip:127.0.0.1:${uasProxy}"}`,
      '',
    ].join('\n'),
  );
  const nodeArgs = arg('node-args', '')
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

async function main(): Promise<void> {
  const rates = arg('rates', '100,200,300').split(',').map(Number);
  const seconds = Number(arg('seconds', '10'));
  const jsonOut = arg('json', '');
  const dir = mkdtempSync(join(tmpdir(), 'trunkline-bench-b2bua-'));
  const port = await freePort();
  const uas: Record<Mode, number> = { proxy: await freePort(), inbound: await freePort(), outbound: await freePort() };
  const uasIp: Record<Mode, string> = { proxy: '127.0.0.1', inbound: '127.0.0.3', outbound: GATEWAY_IP };
  const uacIp: Record<Mode, string> = { proxy: '127.0.0.1', inbound: '127.0.0.5', outbound: TRUNK_IP };
  const service: Record<Mode, string> = { proxy: 'proxy', inbound: DID, outbound: OUTBOUND_NUMBER };
  const server = await startServer(dir, port, uas.proxy);
  const store = await openStore({ kind: 'sqlite', file: join(dir, 'data', 'trunkline.db') });
  await provisionTrunkCalls(store, {
    trunkDest: `sip:127.0.0.3:${uas.inbound}`,
    gateways: [`sip:${GATEWAY_IP}:${uas.outbound}`, 'sip:127.0.0.5:5060'],
  });
  await store.close();
  await sleep(2500);
  const hz = clockTicksPerSecond();
  const steps: Step[] = [];
  const MODES = arg('modes', ALL_MODES.join(',')).split(',') as Mode[];
  const warmupSeconds = Number(arg('warmup', '3'));
  // Warm-up (not reported): the JIT and the allocators settle on every path first.
  const ladder: Array<{ rate: number; secs: number; report: boolean }> = [
    ...(warmupSeconds > 0 ? [{ rate: rates[0]!, secs: warmupSeconds, report: false }] : []),
    ...rates.map((rate) => ({ rate, secs: seconds, report: true })),
  ];
  try {
    for (const { rate, secs, report } of ladder) {
      for (const mode of MODES) {
        const calls = rate * secs;
        const uasRun = spawnSipp(
          [
            '-sf',
            UAS,
            '-i',
            uasIp[mode],
            '-p',
            String(uas[mode]),
            '-m',
            String(calls),
            '-nostdin',
            '-nr',
            '-timeout',
            `${secs + 60}s`,
          ],
          join(dir, `uas-${mode}-${rate}-${secs}.log`),
        );
        await sleep(300);
        const before = treeCpuTicks(server.child.pid!).ticks;
        const stf = join(dir, `uac-${mode}-${rate}-${secs}.csv`);
        const uacRun = spawnSipp(
          [
            '-sf',
            UAC,
            `127.0.0.1:${port}`,
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
          ],
          join(dir, `uac-${mode}-${rate}-${secs}.log`),
        );
        await uacRun.done;
        await Promise.race([uasRun.done, sleep(15_000)]);
        uasRun.child.kill('SIGTERM');
        await sleep(500);
        const after = treeCpuTicks(server.child.pid!).ticks;
        const row = lastCsvRow(stf);
        const step: Step = {
          mode,
          rate,
          calls,
          successful: num(row, 'SuccessfulCall(C)'),
          failed: calls - num(row, 'SuccessfulCall(C)'),
          retransmissions: num(row, 'Retransmissions(C)'),
          cpuMsPerCall: ((after - before) * 1000) / hz / calls,
        };
        if (!report) continue;
        steps.push(step);
        process.stdout.write(
          `${mode.padEnd(8)} ${String(rate).padStart(4)}/s  ok ${step.successful}/${calls}  retrans ${step.retransmissions}  cpu ${step.cpuMsPerCall.toFixed(3)} ms/call\n`,
        );
      }
    }
  } finally {
    await server.stop();
  }
  const load = loadAverage();
  process.stdout.write(
    `\nTrunkline B2BUA vs Trunkline proxy, same run (load ${load.map((x) => x.toFixed(2)).join(' ')})\n`,
  );
  process.stdout.write('rate/s  proxy ms/call  inbound ms/call (ratio)  outbound ms/call (ratio)  failed p/i/o\n');
  let worst = 0;
  for (const rate of rates) {
    const by = (m: Mode): Step =>
      steps.find((s) => s.rate === rate && s.mode === m) ?? {
        mode: m,
        rate,
        calls: 0,
        successful: 0,
        failed: 0,
        retransmissions: 0,
        cpuMsPerCall: NaN,
      };
    const p = by('proxy');
    const i = by('inbound');
    const o = by('outbound');
    const ri = i.cpuMsPerCall / p.cpuMsPerCall;
    const ro = o.cpuMsPerCall / p.cpuMsPerCall;
    // A mode left out (--modes) has no ratio: it is shown as n/a and judges nothing.
    for (const r of [ri, ro]) if (Number.isFinite(r)) worst = Math.max(worst, r);
    process.stdout.write(
      `${String(rate).padStart(6)}  ${figure(p.cpuMsPerCall).padStart(13)}  ${figure(i.cpuMsPerCall).padStart(15)} (${times(ri)})  ${figure(o.cpuMsPerCall).padStart(16)} (${times(ro)})  ${p.failed}/${i.failed}/${o.failed}\n`,
    );
  }
  const judged = worst > 0;
  process.stdout.write(
    judged
      ? `target: B2BUA <= 2.00x the proxy's CPU per call: ${worst <= 2 ? 'met' : 'NOT met'} (worst ${worst.toFixed(2)}x)\n`
      : 'target: not judged (the proxy and a B2BUA mode are both needed for a ratio)\n',
  );
  if (jsonOut !== '') writeFileSync(jsonOut, JSON.stringify({ steps, load }, null, 2));
  rmSync(dir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/b2bua: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
