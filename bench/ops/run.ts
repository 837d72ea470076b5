/**
 * Operations overhead: signalling CPU per call with the operations side
 * busy (HEP capture of every message to a UDP collector, an open SSE event
 * stream, /metrics scraped every --scrape seconds, 5 by default) against the same server with
 * capture off, no stream and no scrapes; the issue's target is at most 10%
 * more. The SIP message counts of /metrics (a few byte reads per message in
 * the transport tap) are always on, in both modes.
 *
 * The same SIPp call flow as bench/proxy (uac-rr.xml through Trunkline to
 * uas-rr.xml), one fresh server per run, modes interleaved (off, on, off,
 * on, ...) so that drift of the machine hits both. CPU is the server's
 * utime+stime from /proc over the step, up to the UAS going idle.
 *
 * Then the API: requests per second for GET /api/v1/domains (a list of
 * --rows domains) and POST /api/v1/domains, with 8 requests in flight.
 * (Trunks are not in this branch; domains stand in for the 10,000 trunks
 * of the issue.)
 *
 *   node dist/bench/ops/run.js [--rate 200] [--seconds 10] [--rounds 2] [--scrape 5] [--rows 10000] [--json]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/helpers/ports.js';
import { Child, installCleanupHandlers } from '../common/children.js';
import { clockTicksPerSecond, treeCpuTicks } from '../common/procstat.js';
import { Uas, runUac } from '../common/sipp.js';
import { waitForBind, waitForOptions } from '../common/readiness.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = join(ROOT, 'dist/src/cli/main.js');
const UAC = join(ROOT, 'bench/proxy/uac-rr.xml');
const UAS = join(ROOT, 'bench/proxy/uas-rr.xml');

interface Opts {
  rate: number;
  seconds: number;
  rounds: number;
  rows: number;
  /** Seconds between /metrics scrapes in the "on" runs (Prometheus's default is 15). */
  scrape: number;
  json: boolean;
}

function parseArgs(argv: string[]): Opts {
  const o: Opts = { rate: 200, seconds: 10, rounds: 2, rows: 10_000, scrape: 5, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = (): number => {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${a}: expected a whole number`);
      return n;
    };
    if (a === '--rate') o.rate = v();
    else if (a === '--seconds') o.seconds = v();
    else if (a === '--rounds') o.rounds = v();
    else if (a === '--rows') o.rows = v();
    else if (a === '--scrape') o.scrape = v();
    else if (a === '--json') o.json = true;
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

const say = (o: Opts, line: string): void => void (o.json ? process.stderr : process.stdout).write(`${line}\n`);

interface Server {
  child: Child;
  dir: string;
  config: string;
  api: string;
  sip: number;
  token: string;
}

async function startServer(capture: boolean, hepPort: number): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-ops-'));
  const sip = await freePort();
  const apiPort = await freePort();
  const uas = await freePort();
  const config = join(dir, 'trunkline.yaml');
  writeFileSync(
    config,
    [
      `listen: [udp:127.0.0.1:${sip}]`,
      `data: ${JSON.stringify(join(dir, 'data'))}`,
      `api: {listen: 127.0.0.1:${apiPort}}`,
      'log: {level: warn}',
      ...(capture ? [`capture: {hep: "udp:127.0.0.1:${hepPort}", id: 2001}`] : []),
      'routes:',
      `  - forward: "sip:127.0.0.1:${uas}"`,
      '',
    ].join('\n'),
  );
  const made = spawnSync(process.execPath, [CLI, 'token', 'add', 'bench', '--role', 'admin', '--config', config], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`token add failed: ${made.stderr}`);
  const child = new Child('trunkline', process.execPath, [CLI, 'serve', '--config', config], join(dir, 'trunkline.log'), dir);
  await waitForOptions(sip, child, 15_000);
  return { child, dir, config, api: `http://127.0.0.1:${apiPort}`, sip, token: made.stdout.trim() };
}

/** One measured run: CPU ms per call, with or without the operations load. */
async function runOnce(o: Opts, on: boolean, sipp: string, hepPort: number): Promise<{ cpuMsPerCall: number; ok: number; calls: number; hep: number; events: number; scrapes: number }> {
  const s = await startServer(on, hepPort);
  const uasPort = Number(/sip:127\.0\.0\.1:(\d+)/.exec((await import('node:fs')).readFileSync(s.config, 'utf8'))![1]);
  const uas = Uas.start({ sipp, scenario: UAS, dir: s.dir, port: uasPort, transport: 'udp', recvTimeoutMs: 20_000, controlPort: await freePort() });
  const abort = new AbortController();
  let events = 0;
  let scrapes = 0;
  let scraping: NodeJS.Timeout | undefined;
  try {
    await waitForBind(uasPort, 'udp', uas.child, 10_000);
    if (on) {
      const res = await fetch(`${s.api}/api/v1/events`, { headers: { authorization: `Bearer ${s.token}` }, signal: abort.signal });
      void (async () => {
        const reader = res.body!.getReader();
        for (;;) {
          const r = await reader.read().catch(() => ({ done: true as const, value: undefined }));
          if (r.done) return;
          events += r.value.length;
        }
      })();
      scraping = setInterval(() => {
        void fetch(`${s.api}/metrics`).then((r) => r.text()).then(() => scrapes++, () => undefined);
      }, o.scrape * 1000);
    }
    const uac = async (calls: number, tag: string) =>
      runUac({ sipp, scenario: UAC, dir: s.dir, target: `127.0.0.1:${s.sip}`, localPort: await freePort(), transport: 'udp', rate: o.rate, calls, limit: Math.max(200, o.rate * 4), recvTimeoutMs: 10_000, deadlineMs: (calls / o.rate) * 1000 + 20_000, statsFile: join(s.dir, `uac-${tag}.csv`), controlPort: await freePort() });
    // Warm-up (JIT, first allocations), not counted.
    await uac(o.rate * 2, 'warm');
    await uas.waitIdle(Date.now(), 35_000);
    const calls = o.rate * o.seconds;
    const cpu0 = treeCpuTicks(s.child.pid);
    const r = await uac(calls, 'run');
    await uas.waitIdle(Date.now(), 35_000);
    const cpu1 = treeCpuTicks(s.child.pid);
    const cpuMs = ((cpu1.ticks - cpu0.ticks) * 1000) / clockTicksPerSecond();
    const metrics = await (await fetch(`${s.api}/metrics`)).text();
    const hep = Number(/^trunkline_hep_packets_total\{outcome="sent"\} (\d+)/m.exec(metrics)?.[1] ?? 0);
    return { cpuMsPerCall: cpuMs / Math.max(1, r.created), ok: r.successful, calls, hep, events, scrapes };
  } finally {
    if (scraping) clearInterval(scraping);
    abort.abort();
    await uas.child.stop(2000, 'SIGINT');
    await s.child.stop(5000);
    rmSync(s.dir, { recursive: true, force: true });
  }
}

/** Requests per second of `make()` with `concurrency` in flight for `ms`. */
async function rps(ms: number, concurrency: number, make: (i: number) => Promise<Response>): Promise<{ rps: number; errors: number }> {
  const end = Date.now() + ms;
  let n = 0;
  let errors = 0;
  const worker = async (): Promise<void> => {
    while (Date.now() < end) {
      const r = await make(n++);
      if (!r.ok) errors++;
      await r.arrayBuffer();
    }
  };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { rps: (n * 1000) / (Date.now() - t0), errors };
}

async function apiBench(o: Opts): Promise<Record<string, unknown>> {
  const s = await startServer(false, 0);
  try {
    const headers = { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' };
    // Rows through the API itself, 16 in flight.
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = next++; i < o.rows; i = next++) {
          const r = await fetch(`${s.api}/api/v1/domains`, { method: 'POST', headers, body: JSON.stringify({ domain: `d${i}.bench.example` }) });
          if (r.status !== 201) throw new Error(`seeding: ${r.status} ${await r.text()}`);
        }
      }),
    );
    const list = await rps(5000, 8, () => fetch(`${s.api}/api/v1/domains`, { headers }));
    const one = await rps(5000, 8, (i) => fetch(`${s.api}/api/v1/domains/d${i % o.rows}.bench.example`, { headers }));
    const create = await rps(5000, 8, (i) => fetch(`${s.api}/api/v1/domains`, { method: 'POST', headers, body: JSON.stringify({ domain: `new${i}.bench.example` }) }));
    return { rows: o.rows, listPerSecond: list.rps, listErrors: list.errors, getPerSecond: one.rps, createPerSecond: create.rps, createErrors: create.errors };
  } finally {
    await s.child.stop(5000);
    rmSync(s.dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  installCleanupHandlers();
  const sipp = 'sipp';
  const hepPort = await freePort();
  const sink = createSocket('udp4');
  let hepReceived = 0;
  sink.on('message', () => hepReceived++);
  await new Promise<void>((r) => sink.bind(hepPort, '127.0.0.1', () => r()));
  const runs: Array<{ mode: 'off' | 'on'; cpuMsPerCall: number; ok: number; calls: number; hep: number; events: number; scrapes: number }> = [];
  try {
    for (let round = 0; round < o.rounds; round++) {
      for (const mode of ['off', 'on'] as const) {
        const r = await runOnce(o, mode === 'on', sipp, hepPort);
        runs.push({ mode, ...r });
        say(o, `round ${round + 1} ${mode.padEnd(3)}: ${r.cpuMsPerCall.toFixed(3)} ms CPU per call, ${r.ok}/${r.calls} calls ok${mode === 'on' ? `, ${r.hep} HEP packets, ${r.scrapes} scrapes, ${r.events} SSE bytes` : ''}`);
      }
    }
    const mean = (m: 'off' | 'on') => {
      const xs = runs.filter((r) => r.mode === m).map((r) => r.cpuMsPerCall);
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    };
    const off = mean('off');
    const on = mean('on');
    const overhead = (on / off - 1) * 100;
    say(o, `signalling CPU per call at ${o.rate} calls/s: off ${off.toFixed(3)} ms, on ${on.toFixed(3)} ms: ${overhead >= 0 ? '+' : ''}${overhead.toFixed(1)}% (target at most +10%)`);
    const api = await apiBench(o);
    say(o, `API with ${o.rows} domains: GET list ${Number(api.listPerSecond).toFixed(1)}/s, GET one ${Number(api.getPerSecond).toFixed(0)}/s, POST ${Number(api.createPerSecond).toFixed(0)}/s (8 in flight)`);
    if (o.json) process.stdout.write(`${JSON.stringify({ rate: o.rate, seconds: o.seconds, runs, offMsPerCall: off, onMsPerCall: on, overheadPercent: overhead, hepReceived, api }, null, 2)}\n`);
  } finally {
    sink.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/ops: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
