/**
 * Run by start-stop.test.ts as a process of its own:
 *
 *   node lifecycle-child.js late-failure|listener-failure|start-stop
 *
 * Starts a server in this process (every periodic part on: gateway pings,
 * NAT keep-alive, the rtpengine ng client, the control socket), lets the
 * start fail or stops it, then checks what is left: the SIP ports bind
 * again, the control socket and the pid file are gone, and node's list of
 * ref'd handles and timers is back to what it was before. It prints one
 * JSON line with its findings and returns without process.exit(), so the
 * process ends only if nothing is left that keeps it alive.
 */
import { createServer as createTcpServer, connect, type Server } from 'node:net';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { controlSocketPath } from '../../src/control/protocol.js';
import { startServer } from '../../src/server/index.js';
import { freePort } from '../helpers/ports.js';

export interface LifecycleReport {
  /** The start's error message, or null when it started. */
  startError: string | null;
  /** While running (start-stop only): the control socket answered, the pid file existed, the SIP port was taken. */
  whileRunning: { control: boolean; pidFile: boolean; sipTaken: boolean } | null;
  /** stop() called twice gave the same promise; `stopped` resolved undefined (start-stop only). */
  stopOnce: boolean | null;
  /** Handles and timers left that were not there before the start (kind xN). */
  handles: string[];
  udpFree: boolean;
  tcpFree: boolean;
  controlSocket: boolean;
  pidFile: boolean;
  /** The parts as they started and stopped (their debug lines, src/server/parts.ts). */
  started: string[];
  stopped: string[];
  /** Lines at warn and above. */
  log: string[];
}

function active(): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of process.getActiveResourcesInfo()) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}

/** Waits (2 s at most) until no handle is left beyond `before`; returns those still there. */
async function leftOver(before: Map<string, number>): Promise<string[]> {
  const until = Date.now() + 2000;
  for (;;) {
    const left: string[] = [];
    for (const [k, n] of active()) if (n > (before.get(k) ?? 0)) left.push(`${k} x${n - (before.get(k) ?? 0)}`);
    if (left.length === 0 || Date.now() >= until) return left;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function udpBinds(port: number): Promise<boolean> {
  const s = createSocket('udp4');
  return new Promise((resolve) => {
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function tcpBinds(port: number): Promise<boolean> {
  const s = createTcpServer();
  return new Promise((resolve) => {
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function controlAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

function listenOn(port: number): Promise<Server> {
  const s = createTcpServer();
  return new Promise((resolve) => s.listen(port, '127.0.0.1', () => resolve(s)));
}

async function main(mode: string): Promise<LifecycleReport> {
  const sip = await freePort();
  const api = await freePort();
  // The port a failing start finds taken: the API's (a late part) or the SIP TCP listener's (an early one).
  const blocker =
    mode === 'late-failure' ? await listenOn(api) : mode === 'listener-failure' ? await listenOn(sip) : null;
  const dir = mkdtempSync(join(tmpdir(), 'server-lifecycle-'));
  const lines: string[] = [];
  const started: string[] = [];
  const stopped: string[] = [];
  const log = createLogger('debug', {
    destination: {
      write: (s: string) => {
        const o = JSON.parse(s) as { level: string; msg: string; part?: string };
        if (o.msg === 'part started') started.push(o.part!);
        else if (o.msg === 'part stopped') stopped.push(o.part!);
        else if (o.level !== 'debug' && o.level !== 'info') lines.push(s.trim());
      },
    },
  });
  const yaml = [
    `data: ${JSON.stringify(join(dir, 'data'))}`,
    `listen: [udp:127.0.0.1:${sip}, tcp:127.0.0.1:${sip}]`,
    `api: {listen: 127.0.0.1:${api}}`,
    `media: {engine: rtpengine, ng: udp:127.0.0.1:${await freePort()}}`,
    'registrar: {keepAlive: 5}',
    'trunking: {ping: {interval: 1}}',
  ].join('\n');
  const config = parseConfig(`${yaml}\n`, dir);
  const control = controlSocketPath(config.data);
  const pid = join(config.data, 'trunkline.pid');
  const report: LifecycleReport = {
    startError: null,
    whileRunning: null,
    stopOnce: null,
    handles: [],
    udpFree: false,
    tcpFree: false,
    controlSocket: false,
    pidFile: false,
    started,
    stopped,
    log: lines,
  };
  try {
    // The blocker is counted in, and closed before the count after.
    const before = active();
    try {
      const server = await startServer(config, log);
      report.whileRunning = {
        control: await controlAnswers(control),
        pidFile: existsSync(pid),
        sipTaken: !(await udpBinds(sip)),
      };
      const first = server.stop();
      const second = server.stop();
      await first;
      report.stopOnce = first === second && (await server.stopped) === undefined;
    } catch (err) {
      report.startError = err instanceof Error ? err.message : String(err);
    }
    blocker?.close();
    // Long enough for a store poller left running (security, trunking directory: every second) to log its failure.
    await new Promise((r) => setTimeout(r, 1200));
    report.handles = await leftOver(before);
    report.udpFree = await udpBinds(sip);
    report.tcpFree = await tcpBinds(sip);
    report.controlSocket = existsSync(control) || (await controlAnswers(control));
    report.pidFile = existsSync(pid);
  } finally {
    blocker?.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return report;
}

const mode = process.argv[2] ?? '';
if (!['late-failure', 'listener-failure', 'start-stop'].includes(mode)) {
  process.stderr.write(`usage: lifecycle-child late-failure|listener-failure|start-stop\n`);
  process.exitCode = 2;
} else {
  const report = await main(mode);
  process.stdout.write(`${JSON.stringify(report)}\n`);
}
