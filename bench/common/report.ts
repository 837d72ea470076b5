/**
 * The benchmarks' verdict and table: per rate, each server's successful and
 * failed units (calls, registrations), retransmissions and CPU ms per unit,
 * the ratio Trunkline/Kamailio, and whether each ran clean.
 */
import type { ServerName } from './cli.js';

/** What the report reads of one step. */
export interface StepFigures {
  rate: number;
  ok: number;
  failed: number;
  retrans: number;
  clean: boolean;
  faults: string[];
}

/** What the report reads of one server's run. */
export interface RunFigures<S extends StepFigures> {
  name: ServerName;
  label: string;
  steps: S[];
  idleCpuMsPerSecond?: number;
  error?: string;
}

export interface Verdict {
  evaluated: boolean;
  holds: boolean;
  reasons: string[];
}

export function fmtMs(v: number | null | undefined): string {
  return v === null || v === undefined ? 'n/a' : v.toFixed(3);
}

/** Trunkline / Kamailio CPU per unit, or null when either is missing. */
export function ratio<S extends StepFigures>(
  k: S | undefined,
  t: S | undefined,
  perUnit: (s: S) => number | null,
): number | null {
  const kv = k === undefined ? null : perUnit(k);
  const tv = t === undefined ? null : perUnit(t);
  if (kv === null || tv === null || kv === 0) return null;
  return tv / kv;
}

/**
 * The target: Trunkline at or below Kamailio's CPU per unit at
 * every rate, and clean wherever Kamailio is clean.
 */
export function verdict<S extends StepFigures>(
  rates: number[],
  k: RunFigures<S> | undefined,
  t: RunFigures<S> | undefined,
  perUnit: (s: S) => number | null,
  unit: string,
): Verdict {
  if (k === undefined || t === undefined)
    return { evaluated: false, holds: false, reasons: ['only one server ran (--only)'] };
  const reasons: string[] = [];
  if (k.error !== undefined) reasons.push(`Kamailio run failed: ${k.error.split('\n')[0]}`);
  if (t.error !== undefined) reasons.push(`Trunkline run failed: ${t.error.split('\n')[0]}`);
  for (const rate of rates) {
    const ks = k.steps.find((s) => s.rate === rate);
    const ts = t.steps.find((s) => s.rate === rate);
    if (ks === undefined || ts === undefined) {
      reasons.push(`${rate}/s: no result for ${ks === undefined ? 'Kamailio' : 'Trunkline'}`);
      continue;
    }
    if (ks.clean && !ts.clean) reasons.push(`${rate}/s: Kamailio clean, Trunkline not (${ts.faults.join('; ')})`);
    const kv = perUnit(ks);
    const tv = perUnit(ts);
    if (tv === null || kv === null) reasons.push(`${rate}/s: no CPU per ${unit}`);
    else if (tv > kv) reasons.push(`${rate}/s: Trunkline ${fmtMs(tv)} > Kamailio ${fmtMs(kv)} ms/${unit}`);
  }
  return { evaluated: true, holds: reasons.length === 0, reasons };
}

/**
 * The table: one row per rate, a block per server (ok, failed, retrans,
 * ms per unit), then T/K and clean K/T when both ran. `rowHead` labels the
 * rate column (its header and each row's text), `unitHead` the CPU column
 * ("ms/call"); `notes` follow the table, then the verdict.
 */
export function formatTable<S extends StepFigures>(o: {
  rates: number[];
  runs: Array<RunFigures<S>>;
  perUnit: (s: S) => number | null;
  rowHead: string;
  row: (rate: number) => string;
  unitHead: string;
  notes: string[];
  verdict: Verdict;
  holdsText: string;
}): string {
  const pad = (s: string | number, n: number): string => String(s).padStart(n);
  const block = `     ok  failed  retrans ${pad(o.unitHead, 8)}`;
  const cell = (s: S | undefined): string =>
    s === undefined
      ? `${pad('-', 7)} ${pad('-', 7)} ${pad('-', 8)} ${pad('-', 8)}`
      : `${pad(s.ok, 7)} ${pad(s.failed, 7)} ${pad(s.retrans, 8)} ${pad(fmtMs(o.perUnit(s)), 8)}`;
  const k = o.runs.find((r) => r.name === 'kamailio');
  const t = o.runs.find((r) => r.name === 'trunkline');
  const both = k !== undefined && t !== undefined;
  const out: string[] = [''];
  out.push(`${' '.repeat(o.rowHead.length)} | ${o.runs.map((r) => r.label.padEnd(block.length)).join(' | ')} |`);
  out.push(`${o.rowHead} | ${o.runs.map(() => block).join(' | ')} |${both ? '    T/K  clean K/T' : '  clean'}`);
  const cleanText = (s: S | undefined): string => (s === undefined ? '-' : s.clean ? 'yes' : 'no');
  for (const rate of o.rates) {
    const steps = o.runs.map((r) => r.steps.find((s) => s.rate === rate));
    let tail: string;
    if (both) {
      const r = ratio(
        k.steps.find((s) => s.rate === rate),
        t.steps.find((s) => s.rate === rate),
        o.perUnit,
      );
      tail = `${pad(r === null ? 'n/a' : r.toFixed(2), 7)}  ${cleanText(steps[0])}/${cleanText(steps[1])}`;
    } else {
      tail = `  ${cleanText(steps[0])}`;
    }
    out.push(`${o.row(rate).padStart(o.rowHead.length)} | ${steps.map(cell).join(' | ')} |${tail}`);
  }
  out.push('');
  out.push(...o.notes);
  for (const r of o.runs) if (r.error !== undefined) out.push(`${r.label} ERROR: ${r.error}`);
  if (o.verdict.evaluated)
    out.push(o.verdict.holds ? o.holdsText : `TARGET DOES NOT HOLD: ${o.verdict.reasons.join('; ')}`);
  else out.push(`target not evaluated: ${o.verdict.reasons.join('; ')}`);
  return `${out.join('\n')}\n`;
}

/** "Idle CPU: Kamailio 0.0 ms/s, Trunkline 0.0 ms/s." and the warm-up, for the notes. */
export function idleNote<S extends StepFigures>(runs: Array<RunFigures<S>>, warmup: number, rates: number[]): string[] {
  const idle = runs
    .filter((r) => r.idleCpuMsPerSecond !== undefined)
    .map((r) => `${r.label} ${r.idleCpuMsPerSecond!.toFixed(1)} ms/s`);
  if (idle.length === 0) return [];
  return [
    `Idle CPU: ${idle.join(', ')}.${warmup > 0 ? ` Warm-up before the ladder (not in the table): ${warmup} s at ${Math.min(...rates)}/s.` : ''}`,
  ];
}
