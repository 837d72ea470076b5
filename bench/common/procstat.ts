/**
 * CPU time of a process tree from /proc (Linux only).
 *
 * A process's utime+stime in /proc/PID/stat already sums all its threads, so a
 * multi-threaded Node.js process is one read. A multi-process server
 * (Kamailio forks its workers, timers and TCP main) is the root plus every
 * descendant, found through the ppid field of /proc/* /stat. cutime+cstime
 * (children that have exited and been waited for) are added too, so CPU of a
 * worker that died between two samples is not lost.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

export interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime + cutime + cstime, in clock ticks. */
  ticks: number;
}

/** Clock ticks per second of /proc/PID/stat times (`getconf CLK_TCK`, 100 on Linux x86). */
export function clockTicksPerSecond(): number {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = r.status === 0 ? Number(r.stdout.trim()) : NaN;
  return Number.isFinite(n) && n > 0 ? n : 100;
}

/** One /proc/PID/stat, or undefined when the process is gone. */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces or ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  // Fields from 3 (state) on; utime is field 14, so index 11 here.
  const f = text.slice(close + 2).split(' ');
  const num = (i: number): number => Number(f[i] ?? 0);
  return { pid, ppid: num(1), ticks: num(11) + num(12) + num(13) + num(14) };
}

/** Every live process as pid -> ppid. */
function processTable(): Map<number, ProcStat> {
  const table = new Map<number, ProcStat>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const st = readProcStat(pid);
    if (st !== undefined) table.set(pid, st);
  }
  return table;
}

/** The root and all its live descendants. */
export function processTree(root: number): ProcStat[] {
  const table = processTable();
  const rootStat = table.get(root);
  if (rootStat === undefined) return [];
  const children = new Map<number, ProcStat[]>();
  for (const st of table.values()) {
    const list = children.get(st.ppid);
    if (list === undefined) children.set(st.ppid, [st]);
    else list.push(st);
  }
  const out: ProcStat[] = [];
  const stack = [rootStat];
  while (stack.length > 0) {
    const st = stack.pop()!;
    out.push(st);
    for (const c of children.get(st.pid) ?? []) stack.push(c);
  }
  return out;
}

/** CPU ticks of the whole tree under root, and how many processes it has. */
export function treeCpuTicks(root: number): { ticks: number; processes: number } {
  const tree = processTree(root);
  let ticks = 0;
  for (const st of tree) ticks += st.ticks;
  return { ticks, processes: tree.length };
}

/** 1-, 5- and 15-minute load averages. */
export function loadAverage(): [number, number, number] {
  try {
    const [a, b, c] = readFileSync('/proc/loadavg', 'utf8').trim().split(/\s+/).map(Number);
    return [a ?? NaN, b ?? NaN, c ?? NaN];
  } catch {
    return [NaN, NaN, NaN];
  }
}

/** CPU milliseconds between two tree samples. */
export function cpuMsBetween(a: { ticks: number }, b: { ticks: number }, clkTck: number): number {
  return ((b.ticks - a.ticks) * 1000) / clkTck;
}

/** What a process tree costs doing nothing (timers, polling): CPU ms per second over a window. */
export async function idleCpuMsPerSecond(
  root: number,
  windowMs: number,
  clkTck: number,
): Promise<{ msPerSecond: number; processes: number }> {
  const a = treeCpuTicks(root);
  await new Promise((r) => setTimeout(r, windowMs));
  return { msPerSecond: cpuMsBetween(a, treeCpuTicks(root), clkTck) / (windowMs / 1000), processes: a.processes };
}

/** Whether /proc has schedstat (run time in ns) on this kernel. */
export const hasSchedstat = ((): boolean => {
  try {
    return /^\d+ \d+ \d+/.test(readFileSync('/proc/self/schedstat', 'latin1'));
  } catch {
    return false;
  }
})();

/**
 * CPU time of each thread of one process, summed by thread name: "main" for
 * the main thread (Node's JavaScript, its event loop and the scavenges), the
 * others by their names (Node 20 calls V8's platform workers, which run the
 * concurrent GC and compiler, "node"; libuv's pool "libuv-worker"). In
 * nanoseconds from /proc/PID/task/TID/schedstat (the scheduler's exact run
 * time) where the kernel has it, else in clock ticks from .../stat, whose
 * utime+stime is sampled at each tick and can be biased by when a process
 * wakes. A thread that ended between two reads is lost.
 */
export function threadTimes(pid: number): { byName: Map<string, number>; unit: 'ns' | 'ticks' } {
  const by = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return { byName: by, unit: hasSchedstat ? 'ns' : 'ticks' };
  }
  for (const tid of tids) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
    } catch {
      continue;
    }
    const open = text.indexOf('(');
    const close = text.lastIndexOf(')');
    if (open < 0 || close < 0) continue;
    const name = Number(tid) === pid ? 'main' : text.slice(open + 1, close);
    let t: number;
    if (hasSchedstat) {
      try {
        t = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
      } catch {
        continue;
      }
    } else {
      const f = text.slice(close + 2).split(' ');
      t = Number(f[11] ?? 0) + Number(f[12] ?? 0);
    }
    by.set(name, (by.get(name) ?? 0) + t);
  }
  return { byName: by, unit: hasSchedstat ? 'ns' : 'ticks' };
}

/** Milliseconds that `t` of threadTimes' unit is. */
export function threadTimeMs(t: number, unit: 'ns' | 'ticks', clkTck: number): number {
  return unit === 'ns' ? t / 1e6 : (t * 1000) / clkTck;
}

/** Per thread name, the time between two threadTimes reads. */
export function threadTicksBetween(a: Map<string, number>, b: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, t] of b) out.set(name, t - (a.get(name) ?? 0));
  return out;
}

/**
 * The scheduler's run time (ns) of every thread of every process under root
 * (Kamailio forks its workers): /proc/PID/task/TID/schedstat summed; null
 * where the kernel has no schedstat.
 */
export function treeRunNs(root: number): number | null {
  if (!hasSchedstat) return null;
  let ns = 0;
  for (const p of processTree(root)) {
    const t = threadTimes(p.pid);
    for (const v of t.byName.values()) ns += v;
  }
  return ns;
}
