/**
 * SIPp as the load generator: the UAS (uas-rr.xml, started once per server)
 * and the UAC (uac-rr.xml, one run per rate step), and the CSV files they
 * write every second with -trace_stat (cumulative counters such as
 * SuccessfulCall(C)) and -trace_counts (per scenario message, e.g. 3_ACK_Recv).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Child } from './children.js';

export type Transport = 'udp' | 'tcp';

/** The last data row of a SIPp ';'-separated CSV as column -> text, or undefined when there is none. */
export function lastCsvRow(file: string): Map<string, string> | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch {
    return undefined;
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length < 2) return undefined;
  const header = lines[0]!.split(';');
  // A row being written while we read may be cut short: take the last complete one.
  for (let i = lines.length - 1; i >= 1; i--) {
    const cells = lines[i]!.split(';');
    if (cells.length + 1 < header.length) continue;
    const row = new Map<string, string>();
    header.forEach((h, j) => row.set(h, cells[j] ?? ''));
    return row;
  }
  return undefined;
}

export function num(row: Map<string, string> | undefined, column: string): number {
  const v = row?.get(column);
  const n = v === undefined ? NaN : Number(v);
  return Number.isFinite(n) ? n : 0;
}

/** A column by pattern (scenario message counters are prefixed by their index: 3_ACK_Recv). */
export function numMatching(row: Map<string, string> | undefined, pattern: RegExp): number {
  if (row === undefined) return 0;
  for (const [k, v] of row) if (pattern.test(k)) return Number(v) || 0;
  return 0;
}

/** What a UAC run reports (from the last row of its stats file). */
export interface UacResult {
  /** Calls the UAC started (TotalCallCreated). */
  created: number;
  successful: number;
  /** FailedCall(C): calls SIPp ended as failed. */
  failedCalls: number;
  /** Calls still open when the UAC ended (killed at its deadline). */
  unfinished: number;
  retransmissions: number;
  /** SIPp's exit code (0 all calls ok, 1 some failed, 99 no calls, 254/255 fatal), or null when killed. */
  exitCode: number | null;
  /** True when it ran into the deadline and was killed. */
  killed: boolean;
  /** Wall-clock seconds from start to exit. */
  wallSeconds: number;
  /** Failure counters SIPp names in its stats, those above zero (e.g. FailedUnexpectedMessage). */
  failureKinds: Record<string, number>;
}

export interface UacOptions {
  sipp: string;
  scenario: string;
  dir: string;
  /** The proxy's address. */
  target: string;
  localPort: number;
  transport: Transport;
  rate: number;
  calls: number;
  limit: number;
  /** A call waiting longer than this for an expected message fails (SIPp -recv_timeout). */
  recvTimeoutMs: number;
  deadlineMs: number;
  statsFile: string;
  /** SIPp's UDP remote-control port (-cp): a free one, not the shared default 8888. */
  controlPort: number;
  /** Local address (another 127.x stands for another host); 127.0.0.1 by default. */
  ip?: string;
  /** More SIPp arguments (`-s SERVICE`, `-key ...`, `-trace_rtt`). */
  extra?: string[];
}

export function sippTransportArgs(t: Transport): string[] {
  return t === 'tcp' ? ['-t', 't1'] : ['-t', 'u1'];
}

export async function runUac(o: UacOptions): Promise<UacResult> {
  const args = [
    '-sf',
    o.scenario,
    o.target,
    '-i',
    o.ip ?? '127.0.0.1',
    '-p',
    String(o.localPort),
    ...sippTransportArgs(o.transport),
    '-r',
    String(o.rate),
    '-m',
    String(o.calls),
    '-l',
    String(o.limit),
    '-recv_timeout',
    String(o.recvTimeoutMs),
    '-cp',
    String(o.controlPort),
    '-nostdin',
    '-trace_stat',
    '-stf',
    o.statsFile,
    '-fd',
    '1',
    ...(o.extra ?? []),
  ];
  const started = Date.now();
  const child = new Child(`sipp uac ${o.rate}/s`, o.sipp, args, join(o.dir, `uac-${o.rate}.log`), o.dir);
  let killed = false;
  if (!(await child.wait(o.deadlineMs))) {
    killed = true;
    await child.stop(2000);
  }
  const wallSeconds = (Date.now() - started) / 1000;
  const row = lastCsvRow(o.statsFile);
  if (row === undefined) {
    throw new Error(`SIPp UAC wrote no statistics (${child.describeExit()}):\n${child.logTail()}`);
  }
  const created = num(row, 'TotalCallCreated');
  const successful = num(row, 'SuccessfulCall(C)');
  const failedCalls = num(row, 'FailedCall(C)');
  const failureKinds: Record<string, number> = {};
  for (const [k, v] of row) {
    const m = /^Failed(.+)\(C\)$/.exec(k);
    if (m !== null && m[1] !== 'Call' && Number(v) > 0) failureKinds[m[1]!] = Number(v);
  }
  return {
    created,
    successful,
    failedCalls,
    unfinished: Math.max(0, created - successful - failedCalls),
    retransmissions: num(row, 'Retransmissions(C)'),
    exitCode: killed ? null : child.exitCode,
    killed,
    wallSeconds,
    failureKinds,
  };
}

/** Cumulative UAS counters, read between steps. */
export interface UasCounters {
  invites: number;
  acks: number;
  byes: number;
  retransmissions: number;
  failedCalls: number;
  currentCalls: number;
}

export class Uas {
  readonly statsFile: string;
  private constructor(
    readonly child: Child,
    private readonly dir: string,
    statsFile: string,
  ) {
    this.statsFile = statsFile;
  }

  static start(o: {
    sipp: string;
    scenario: string;
    dir: string;
    port: number;
    transport: Transport;
    recvTimeoutMs: number;
    controlPort: number;
    /** Local address; 127.0.0.1 by default. */
    ip?: string;
  }): Uas {
    const statsFile = join(o.dir, 'uas-stats.csv');
    const args = [
      '-sf',
      o.scenario,
      '-i',
      o.ip ?? '127.0.0.1',
      '-p',
      String(o.port),
      ...sippTransportArgs(o.transport),
      '-recv_timeout',
      String(o.recvTimeoutMs),
      '-cp',
      String(o.controlPort),
      '-nostdin',
      '-trace_stat',
      '-stf',
      statsFile,
      '-trace_counts',
      '-fd',
      '1',
    ];
    return new Uas(new Child('sipp uas', o.sipp, args, join(o.dir, 'uas.log'), o.dir), o.dir, statsFile);
  }

  /** -trace_counts writes <scenario>_<pid>_counts.csv in the working directory. */
  private countsFile(): string | undefined {
    const name = readdirSync(this.dir).find((f) => f.endsWith(`_${this.child.pid}_counts.csv`));
    return name === undefined ? undefined : join(this.dir, name);
  }

  read(): UasCounters {
    const stats = lastCsvRow(this.statsFile);
    const countsFile = this.countsFile();
    const counts = countsFile === undefined ? undefined : lastCsvRow(countsFile);
    return {
      invites: numMatching(counts, /^\d+_INVITE_Recv$/),
      acks: numMatching(counts, /^\d+_ACK_Recv$/),
      byes: numMatching(counts, /^\d+_BYE_Recv$/),
      retransmissions: num(stats, 'Retransmissions(C)'),
      failedCalls: num(stats, 'FailedCall(C)'),
      currentCalls: num(stats, 'CurrentCall'),
    };
  }

  /** Modification time (ms) of the older of the two files SIPp rewrites every second; 0 when missing. */
  private filesWrittenAt(): number {
    const countsFile = this.countsFile();
    if (!existsSync(this.statsFile) || countsFile === undefined) return 0;
    try {
      return Math.min(statSync(this.statsFile).mtimeMs, statSync(countsFile).mtimeMs);
    } catch {
      return 0;
    }
  }

  /**
   * Waits until the UAS has no open call in a dump written after `since`
   * (so its counters include everything up to then); calls linger 4 s in the
   * scenario's timewait. Returns the counters, and whether it went idle in time.
   */
  async waitIdle(since: number, timeoutMs: number): Promise<{ counters: UasCounters; idle: boolean }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.child.exited) throw new UasExited(this.child);
      const counters = this.read();
      if (this.filesWrittenAt() > since && counters.currentCalls === 0) return { counters, idle: true };
      if (Date.now() > deadline) return { counters, idle: false };
      await sleep(200);
    }
  }
}

/** The UAS ended while the benchmark still needed it (a crash, or a signal or control command from outside). */
export class UasExited extends Error {
  /** One line: how it ended. */
  readonly summary: string;
  constructor(child: Child) {
    const summary = `SIPp UAS exited mid-run (${child.describeExit()})`;
    super(`${summary}; its log ends with\n${child.logTail(4)}`);
    this.summary = summary;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
