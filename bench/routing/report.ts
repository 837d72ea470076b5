/**
 * bench/routing's table: each figure of Trunkline and Kamailio's lcr side
 * by side with their ratio, then the lookups beside imports and the target.
 */
import type { KamailioFigures } from './kamailio.js';
import type { BesideRun } from './lookup.js';
import type { LatencyStats } from './stats.js';
import { fmtUs } from './stats.js';
import type { TrunklineFigures } from './trunkline.js';

/** The target: a route lookup under 20 µs at the 99th percentile (p99). */
export const TARGET_P99_US = 20;

export interface Report {
  opts: { carriers: number; prefixes: number; lookups: number };
  load: [number, number, number];
  endLoad: [number, number, number];
  cpus: number;
  distinctPrefixes: number;
  trunkline: TrunklineFigures | undefined;
  kamailio: KamailioFigures | undefined;
}

const MB = 1024 * 1024;

function row(name: string, t: number | undefined, k: number | undefined, fmt: (v: number) => string): string {
  const cell = (v: number | undefined): string => (v === undefined ? '-' : fmt(v));
  const ratio = t !== undefined && k !== undefined && k !== 0 ? (t / k).toFixed(2) : '';
  return `${name.padEnd(38)} ${cell(t).padStart(12)} ${cell(k).padStart(14)} ${ratio.padStart(7)}`;
}

function latencyRows(t: LatencyStats | undefined, k: LatencyStats | undefined): string[] {
  const keys: Array<[string, keyof LatencyStats]> = [
    ['  mean', 'meanUs'],
    ['  p50', 'p50Us'],
    [`  p99 (target < ${TARGET_P99_US} µs)`, 'p99Us'],
    ['  p99.9', 'p999Us'],
    ['  max', 'maxUs'],
  ];
  return keys.map(([name, key]) => row(name, t?.[key], k?.[key], fmtUs));
}

function beside(name: string, b: BesideRun, importMs: number, rows: number): string {
  return (
    `${name}: ` +
    (rows === 0
      ? ''
      : `${rows} rows imported in ${(importMs / 1000).toFixed(1)} s (${Math.round(rows / (importMs / 1000))} rows/s);`) +
    ` ${b.lookups} lookups meanwhile, p50 ${fmtUs(b.stats.p50Us)} / p99 ${fmtUs(b.stats.p99Us)} / max ${fmtUs(b.stats.maxUs)} µs;` +
    ` event loop delay p99 ${(b.loopP99Us / 1000).toFixed(1)} / max ${(b.loopMaxUs / 1000).toFixed(1)} ms;` +
    ` ${b.differing} lookups with other carriers or order than steady`
  );
}

export function formatReport(r: Report): string {
  const t = r.trunkline;
  const k = r.kamailio;
  const rows = r.opts.carriers * r.opts.prefixes;
  const out: string[] = [''];
  out.push(`${''.padEnd(38)} ${'Trunkline'.padStart(12)} ${'Kamailio lcr'.padStart(14)} ${'T/K'.padStart(7)}`);
  out.push(`route lookup, µs per call (${r.opts.lookups} numbers)`);
  out.push(...latencyRows(t?.steady.stats, k?.lookups));
  out.push(row('carriers found per lookup', t?.carriersPerLookup, k?.carriersPerLookup, (v) => v.toFixed(2)));
  out.push(row('numbers with no carrier', t?.none, k?.none, (v) => String(v)));
  const perSecond = (v: number): string => String(Math.round(v));
  out.push(
    row('deck import (CSV into the store), rows/s', t && t.import.rows / (t.import.ms / 1000), undefined, perSecond),
  );
  out.push(
    row(
      'deck load into memory, rows/s',
      t && t.import.rows / (t.loadedMs / 1000),
      // Below the start-up time's noise (small decks) there is no load time to divide by.
      k && k.loadMs > 0 ? k.targets / (k.loadMs / 1000) : undefined,
      perSecond,
    ),
  );
  out.push(
    row(
      'memory per million prefixes, MB',
      t === undefined ? undefined : t.memoryBytesPerMillion / MB,
      k === undefined ? undefined : k.shmBytes / (rows / 1e6) / MB,
      (v) => v.toFixed(1),
    ),
  );
  out.push('');
  if (t !== undefined) {
    out.push(
      `Trunkline: SQLite store, the live call's path (decideRoute: the route, directory.rates = store.rates.match, orderRoute); ` +
        `deck load: ${r.opts.carriers} \`trunkline rate import\` processes one after another, ${(t.import.ms / 1000).toFixed(1)} s in all ` +
        `(${t.import.perDeckMs.map((ms) => (ms / 1000).toFixed(1)).join(', ')} s); memory: the decks' arrays in memory ` +
        `(${t.decksInMemory} decks, loaded side by side in ${(t.loadedMs / 1000).toFixed(1)} s once looked up; ` +
        `the process's RSS grew ${(t.rssGrowth / MB).toFixed(1)} MB, V8 heap ${(t.heapGrowth / MB).toFixed(1)} MB), ` +
        `the SQLite file ${(t.dbBytesPerMillion / MB).toFixed(1)} MB per million rows.`,
    );
    out.push(beside('  alone, 3 s (the baseline of the two below)', t.alone, 3000, 0));
    out.push(
      beside(
        '  beside a CLI import (--replace, every deck, other processes)',
        t.besideCli,
        t.besideCli.importMs,
        t.import.rows,
      ),
    );
    out.push(
      beside(
        '  beside an in-process import (--replace, one deck, the API upload path)',
        t.besideInProcess,
        t.besideInProcess.importMs,
        t.besideInProcess.rows,
      ),
    );
  }
  if (k !== undefined) {
    out.push(
      `Kamailio ${k.version} lcr, -x tlsf, one worker: ${k.rules} lcr_rule rows (one per distinct prefix), ${k.targets} lcr_rule_target rows; ` +
        `load_gws() timed in the server by the benchmark module (whole µs); deck load: lcr reading the tables from SQLite at start-up ` +
        `(${(k.loadMs / 1000).toFixed(1)} s, start-up with the decks minus without); memory: shared memory in use with the decks minus without ` +
        `(${(k.shmBytes / MB).toFixed(1)} MB).`,
    );
  }
  out.push(
    `Load average before ${r.load.map((x) => x.toFixed(2)).join(' ')}, after ${r.endLoad.map((x) => x.toFixed(2)).join(' ')} (${r.cpus} CPUs)` +
      (r.load[0] > 0.5 || r.endLoad[0] > 0.5 ? ': the machine was busy, figures are noisy.' : '.'),
  );
  if (t !== undefined) {
    const p99 = t.steady.stats.p99Us;
    out.push(
      p99 < TARGET_P99_US
        ? `TARGET HOLDS: Trunkline's route lookup p99 ${fmtUs(p99)} µs < ${TARGET_P99_US} µs`
        : `TARGET DOES NOT HOLD: Trunkline's route lookup p99 ${fmtUs(p99)} µs >= ${TARGET_P99_US} µs`,
    );
  }
  return `${out.join('\n')}\n`;
}
