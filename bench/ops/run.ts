/**
 * Operations overhead: signalling CPU per call with the operations side
 * busy (HEP capture of every message to a UDP collector, an open SSE event
 * stream, /metrics scraped every --scrape seconds, 5 by default) against the same server with
 * capture off, no stream and no scrapes; the issue's target is at most 10%
 * more. The SIP message counts of /metrics (a few byte reads per message in
 * the transport tap) are always on, in both modes.
 *
 * The same SIPp call flow as bench/proxy (uac-rr.xml through Trunkline to
 * uas-rr.xml), one fresh server per run, modes interleaved in ABBA order
 * (off, on, on, off, ...) so that drift of the machine, and whatever the
 * first run of a round leaves behind, hits both. CPU is the server's
 * utime+stime from /proc over the step, up to the UAS going idle.
 *
 * Then the API with --rows trunks (10,000 by default) in the store:
 * requests per second, 8 in flight, for GET /api/v1/trunks (the whole
 * list), a page of 100 of it (?limit=100&cursor=), GET ?account= (one
 * account's 100 trunks), GET one trunk and POST a new one.
 *
 *   node dist/bench/ops/run.js [--rate 200] [--seconds 10] [--rounds 2] [--scrape 5] [--rows 10000] [--json]
 *                              [--no-api] [--cpu-prof DIR  (V8 profiles of the servers, in DIR/on and DIR/off)]
 *                              [--parts capture,sse,scrape  (what "on" switches on; all by default)] [--hep udp|tcp]
 *                              [--warmup 10  (seconds of calls before the measured ones, per server)]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { spawnSync } from 'node:child_process';
import { cpus, loadavg, tmpdir } from 'node:os';
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
  /** Skip the API part. */
  noApi: boolean;
  /** Write a V8 CPU profile of each "on" server here (node --cpu-prof). */
  cpuProf: string | null;
  /** What "on" switches on (all three by default; fewer to see what costs what). */
  parts: Set<Part>;
  /** How HEP reaches the collector (a listener in this process). */
  hep: 'udp' | 'tcp';
  /** Seconds of calls at the rate before the measured ones, per server (JIT and first allocations settle). */
  warmup: number;
}

const PARTS = ['capture', 'sse', 'scrape'] as const;
type Part = (typeof PARTS)[number];

function parseArgs(argv: string[]): Opts {
  const o: Opts = { rate: 200, seconds: 10, rounds: 2, rows: 10_000, scrape: 5, json: false, noApi: false, cpuProf: null, parts: new Set(PARTS), hep: 'udp', warmup: 10 };
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
    else if (a === '--no-api') o.noApi = true;
    else if (a === '--cpu-prof') o.cpuProf = argv[++i] ?? '';
    else if (a === '--warmup') o.warmup = v();
    else if (a === '--hep') {
      const h = argv[++i];
      if (h !== 'udp' && h !== 'tcp') throw new Error('--hep: udp or tcp');
      o.hep = h;
    } else if (a === '--parts') {
      const list = (argv[++i] ?? '').split(',');
      for (const p of list) if (!(PARTS as readonly string[]).includes(p)) throw new Error(`--parts: ${p} is not one of ${PARTS.join(', ')}`);
      o.parts = new Set(list as Part[]);
    }
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

async function startServer(capture: 'udp' | 'tcp' | null, hepPort: number, nodeArgs: string[] = []): Promise<Server> {
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
      ...(capture !== null ? [`capture: {hep: "${capture}:127.0.0.1:${hepPort}", id: 2001}`] : []),
      'routes:',
      `  - forward: "sip:127.0.0.1:${uas}"`,
      '',
    ].join('\n'),
  );
  const made = spawnSync(process.execPath, [CLI, 'token', 'add', 'bench', '--role', 'admin', '--config', config], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`token add failed: ${made.stderr}`);
  const child = new Child('trunkline', process.execPath, [...nodeArgs, CLI, 'serve', '--config', config], join(dir, 'trunkline.log'), dir);
  await waitForOptions(sip, child, 15_000);
  return { child, dir, config, api: `http://127.0.0.1:${apiPort}`, sip, token: made.stdout.trim() };
}

/** utime and stime of one process (the server is one process), in clock ticks. */
function userSys(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]), sys: Number(f[12]) };
}

/** One measured run: CPU ms per call, with or without the operations load. */
async function runOnce(o: Opts, on: boolean, sipp: string, hepPort: number): Promise<{ cpuMsPerCall: number; userMsPerCall: number; sysMsPerCall: number; ok: number; calls: number; hep: number; events: number; scrapes: number }> {
  const s = await startServer(on && o.parts.has('capture') ? o.hep : null, hepPort, o.cpuProf !== null ? ['--cpu-prof', '--cpu-prof-dir', join(o.cpuProf, on ? 'on' : 'off')] : []);
  const uasPort = Number(/sip:127\.0\.0\.1:(\d+)/.exec(readFileSync(s.config, 'utf8'))![1]);
  const uas = Uas.start({ sipp, scenario: UAS, dir: s.dir, port: uasPort, transport: 'udp', recvTimeoutMs: 20_000, controlPort: await freePort() });
  const abort = new AbortController();
  let events = 0;
  let scrapes = 0;
  let scraping: NodeJS.Timeout | undefined;
  try {
    await waitForBind(uasPort, 'udp', uas.child, 10_000);
    if (on && o.parts.has('sse')) {
      const res = await fetch(`${s.api}/api/v1/events`, { headers: { authorization: `Bearer ${s.token}` }, signal: abort.signal });
      void (async () => {
        const reader = res.body!.getReader();
        for (;;) {
          const r = await reader.read().catch(() => ({ done: true as const, value: undefined }));
          if (r.done) return;
          events += r.value.length;
        }
      })();
    }
    if (on && o.parts.has('scrape')) {
      scraping = setInterval(() => {
        void fetch(`${s.api}/metrics`).then((r) => r.text()).then(() => scrapes++, () => undefined);
      }, o.scrape * 1000);
    }
    const uac = async (calls: number, tag: string) =>
      runUac({ sipp, scenario: UAC, dir: s.dir, target: `127.0.0.1:${s.sip}`, localPort: await freePort(), transport: 'udp', rate: o.rate, calls, limit: Math.max(200, o.rate * 4), recvTimeoutMs: 10_000, deadlineMs: (calls / o.rate) * 1000 + 20_000, statsFile: join(s.dir, `uac-${tag}.csv`), controlPort: await freePort() });
    // Warm-up (JIT, first allocations), not counted.
    await uac(Math.max(1, o.rate * o.warmup), 'warm');
    await uas.waitIdle(Date.now(), 35_000);
    const calls = o.rate * o.seconds;
    const cpu0 = treeCpuTicks(s.child.pid);
    const us0 = userSys(s.child.pid);
    const r = await uac(calls, 'run');
    await uas.waitIdle(Date.now(), 35_000);
    const cpu1 = treeCpuTicks(s.child.pid);
    const us1 = userSys(s.child.pid);
    const cpuMs = ((cpu1.ticks - cpu0.ticks) * 1000) / clockTicksPerSecond();
    const metrics = await (await fetch(`${s.api}/metrics`)).text();
    const hep = Number(/^trunkline_hep_packets_total\{outcome="sent"\} (\d+)/m.exec(metrics)?.[1] ?? 0);
    const tick = 1000 / clockTicksPerSecond() / Math.max(1, r.created);
    return { cpuMsPerCall: cpuMs / Math.max(1, r.created), userMsPerCall: (us1.user - us0.user) * tick, sysMsPerCall: (us1.sys - us0.sys) * tick, ok: r.successful, calls, hep, events, scrapes };
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

/** The address of trunk `i`: one /32 each, 10.0.0.0/8 (no two trunks share a peer). */
const trunkIp = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

/** `count` POSTs to `path`, `inFlight` at a time; any answer but 201 stops the bench. */
async function seed(s: Server, path: string, count: number, inFlight: number, body: (i: number) => object): Promise<void> {
  const headers = { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' };
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (let i = next++; i < count; i = next++) {
        const r = await fetch(`${s.api}${path}`, { method: 'POST', headers, body: JSON.stringify(body(i)) });
        if (r.status !== 201) throw new Error(`seeding ${path}: ${r.status} ${await r.text()}`);
      }
    }),
  );
}

/**
 * The API with --rows trunks (static peers, one /32 each) spread over
 * --rows/100 accounts, all made through POST itself (16 in flight; the time
 * is reported). GET /api/v1/trunks without `limit` is the whole list in one
 * response, measured as such; `?limit=100&cursor=` pages are measured at
 * random places in the list (the cursors found by walking it once), and
 * `?account=` (100 trunks) as a filter.
 */
async function apiBench(o: Opts): Promise<Record<string, unknown>> {
  const s = await startServer(null, 0);
  try {
    const headers = { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' };
    const accounts = Math.max(1, Math.ceil(o.rows / 100));
    const t0 = Date.now();
    await seed(s, '/api/v1/accounts', accounts, 16, (i) => ({ name: `acct${i}` }));
    await seed(s, '/api/v1/trunks', o.rows, 16, (i) => ({ name: `t${i}`, account: `acct${i % accounts}`, ip: [trunkIp(i)] }));
    const seedMs = Date.now() - t0;
    const check = await fetch(`${s.api}/api/v1/trunks`, { headers });
    const all = (await check.json()) as unknown[];
    if (all.length !== o.rows) throw new Error(`GET /api/v1/trunks gave ${all.length} trunks, ${o.rows} made`);
    const listBytes = JSON.stringify(all).length;
    const list = await rps(5000, 8, () => fetch(`${s.api}/api/v1/trunks`, { headers }));
    // Walk the list once by pages of 100 (every trunk once), keeping each page's cursor.
    const cursors: string[] = [''];
    let walked = 0;
    for (;;) {
      const r = await fetch(`${s.api}/api/v1/trunks?limit=100${cursors[cursors.length - 1] === '' ? '' : `&cursor=${cursors[cursors.length - 1]}`}`, { headers });
      walked += ((await r.json()) as unknown[]).length;
      const next = r.headers.get('next-cursor');
      if (next === null) break;
      cursors.push(next);
    }
    if (walked !== o.rows) throw new Error(`pages of GET /api/v1/trunks?limit=100 gave ${walked} trunks, ${o.rows} made`);
    const paged = await rps(5000, 8, (i) => {
      const c = cursors[(i * 7919) % cursors.length]!;
      return fetch(`${s.api}/api/v1/trunks?limit=100${c === '' ? '' : `&cursor=${c}`}`, { headers });
    });
    const byAccount = await rps(5000, 8, (i) => fetch(`${s.api}/api/v1/trunks?account=acct${i % accounts}`, { headers }));
    const one = await rps(5000, 8, (i) => fetch(`${s.api}/api/v1/trunks/t${(i * 7919) % o.rows}`, { headers }));
    const create = await rps(5000, 8, (i) => fetch(`${s.api}/api/v1/trunks`, { method: 'POST', headers, body: JSON.stringify({ name: `new${i}`, account: `acct${i % accounts}`, ip: [trunkIp(o.rows + i)] }) }));
    return {
      rows: o.rows,
      accounts,
      seedMs,
      seedPerSecond: ((o.rows + accounts) * 1000) / seedMs,
      listBytes,
      listPerSecond: list.rps,
      listErrors: list.errors,
      pages: cursors.length,
      pagePerSecond: paged.rps,
      pageErrors: paged.errors,
      accountListPerSecond: byAccount.rps,
      accountListErrors: byAccount.errors,
      getPerSecond: one.rps,
      getErrors: one.errors,
      createPerSecond: create.rps,
      createErrors: create.errors,
    };
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
  // The collector: a UDP socket or a TCP listener counting what arrives (datagrams; bytes over TCP).
  let hepReceived = 0;
  const sink = createSocket('udp4');
  sink.on('message', () => hepReceived++);
  const tcpSink = createServer((c) => c.on('data', (d: Buffer) => (hepReceived += d.length)).on('error', () => undefined));
  if (o.hep === 'udp') await new Promise<void>((r) => sink.bind(hepPort, '127.0.0.1', () => r()));
  else await new Promise<void>((r) => tcpSink.listen(hepPort, '127.0.0.1', () => r()));
  const load0 = loadavg();
  const runs: Array<{ mode: 'off' | 'on'; cpuMsPerCall: number; userMsPerCall: number; sysMsPerCall: number; ok: number; calls: number; hep: number; events: number; scrapes: number }> = [];
  try {
    for (let round = 0; round < o.rounds; round++) {
      // ABBA: off first in even rounds, on first in odd ones (the second server of a round runs on a machine the first just left).
      for (const mode of round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
        const r = await runOnce(o, mode === 'on', sipp, hepPort);
        runs.push({ mode, ...r });
        say(o, `round ${round + 1} ${mode.padEnd(3)}: ${r.cpuMsPerCall.toFixed(3)} ms CPU per call (user ${r.userMsPerCall.toFixed(3)}, system ${r.sysMsPerCall.toFixed(3)}), ${r.ok}/${r.calls} calls ok${mode === 'on' ? `, ${r.hep} HEP packets, ${r.scrapes} scrapes, ${r.events} SSE bytes` : ''}`);
      }
    }
    let overhead: number | null = null;
    let medianOverhead: number | null = null;
    let off = 0;
    let on = 0;
    if (runs.length > 0) {
      const mean = (m: 'off' | 'on') => {
        const xs = runs.filter((r) => r.mode === m).map((r) => r.cpuMsPerCall);
        return xs.reduce((x, y) => x + y, 0) / xs.length;
      };
      off = mean('off');
      on = mean('on');
      overhead = (on / off - 1) * 100;
      say(o, `HEP over ${o.hep}, "on" = ${[...o.parts].join('+')}`);
      say(o, `signalling CPU per call at ${o.rate} calls/s, mean of ${o.rounds} interleaved rounds: off ${off.toFixed(3)} ms, on ${on.toFixed(3)} ms: ${overhead >= 0 ? '+' : ''}${overhead.toFixed(1)}% (target at most +10%)`);
      // Per round (the two servers of a round ran back to back): the median of on/off, less moved by one disturbed run.
      const ratios: number[] = [];
      for (let i = 0; i + 1 < runs.length; i += 2) {
        const a = runs[i]!;
        const b = runs[i + 1]!;
        const [offRun, onRun] = a.mode === 'off' ? [a, b] : [b, a];
        ratios.push(onRun.cpuMsPerCall / offRun.cpuMsPerCall);
      }
      ratios.sort((x, y) => x - y);
      const mid = ratios.length / 2;
      medianOverhead = ((ratios.length % 2 === 1 ? ratios[Math.floor(mid)]! : (ratios[mid - 1]! + ratios[mid]!) / 2) - 1) * 100;
      say(o, `  per round: ${ratios.map((r) => `${r >= 1 ? '+' : ''}${((r - 1) * 100).toFixed(1)}%`).join(' ')}; median ${medianOverhead >= 0 ? '+' : ''}${medianOverhead.toFixed(1)}%`);
    }
    say(o, `load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} (at start ${load0.map((x) => x.toFixed(2)).join(' ')}), ${cpus().length} CPUs`);
    let api: Record<string, unknown> | null = null;
    if (!o.noApi) {
      const r = await apiBench(o);
      api = r;
      const n = (k: string, d = 0): string => Number(r[k]).toFixed(d);
      say(o, `API with ${o.rows} trunks in ${n('accounts')} accounts (made by POST in ${n('seedMs')} ms, ${n('seedPerSecond')}/s, 16 in flight); 8 requests in flight:`);
      say(o, `  GET /api/v1/trunks (all ${o.rows}, ${n('listBytes')} bytes) ${n('listPerSecond', 1)}/s; GET ?account= (${Math.round(o.rows / Number(r.accounts))} trunks) ${n('accountListPerSecond')}/s`);
      say(o, `  GET /api/v1/trunks?limit=100&cursor= (a page of 100 at random among ${n('pages')}) ${n('pagePerSecond')}/s`);
      say(o, `  GET /api/v1/trunks/NAME ${n('getPerSecond')}/s; POST /api/v1/trunks ${n('createPerSecond')}/s; errors: ${n('listErrors')} ${n('pageErrors')} ${n('accountListErrors')} ${n('getErrors')} ${n('createErrors')}`);
    }
    if (o.json) process.stdout.write(`${JSON.stringify({ rate: o.rate, seconds: o.seconds, runs, offMsPerCall: off, onMsPerCall: on, overheadPercent: overhead, medianOverheadPercent: medianOverhead, hepReceived, loadavg: loadavg(), api }, null, 2)}\n`);
  } finally {
    if (o.hep === 'udp') sink.close();
    else tcpSink.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/ops: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
