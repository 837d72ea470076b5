/** bench/media's summary (CPU per packet ratios, most calls without loss) and its table. */
import type { Args, EngineName, Mode, StepResult } from './run.js';

interface Summary {
  mode: Mode;
  /** builtin CPU per packet / rtpengine CPU per packet, per call count. */
  ratios: { calls: number; ratio: number }[];
  /** Largest call count each engine relayed at the full rate with under 0.1% loss (0: none; limited by the generator too). */
  maxCalls: Partial<Record<EngineName, number>>;
}

export function summarize(results: StepResult[], args: Args): Summary[] {
  return args.modes.map((mode) => {
    const of = (e: EngineName): StepResult[] => results.filter((r) => r.mode === mode && r.engine === e);
    const ratios = of('builtin')
      .map((b) => {
        const r = of('rtpengine').find((x) => x.calls === b.calls);
        return r ? { calls: b.calls, ratio: Math.round((b.cpuUsPerPacket / r.cpuUsPerPacket) * 100) / 100 } : null;
      })
      .filter((x): x is { calls: number; ratio: number } => x !== null);
    const maxCalls: Partial<Record<EngineName, number>> = {};
    for (const e of ['builtin', 'rtpengine'] as const) {
      // A step counts when the generator reached its rate (98%) and loss stayed under 0.1%.
      const ok = of(e).filter((r) => r.lossPct < 0.1 && r.sent / r.seconds >= 0.98 * r.targetPps);
      if (of(e).length > 0) maxCalls[e] = ok.length ? Math.max(...ok.map((r) => r.calls)) : 0;
    }
    return { mode, ratios, maxCalls };
  });
}

export function printTable(results: StepResult[], summary: Summary[]): void {
  const head = [
    'engine',
    'mode',
    'calls',
    'target/s',
    'sent/s',
    'loss %',
    'relay CPU %',
    'pkts/CPU-s',
    'us/pkt',
    'CPU %/call',
    'gen CPU %',
    'rcvbuf drops',
    'load',
  ];
  const rows = results.map((r) =>
    [
      r.engine,
      r.mode,
      r.calls,
      r.targetPps,
      Math.round(r.sent / r.seconds),
      r.lossPct,
      r.relayCpuPct,
      r.packetsPerCpuSecond,
      r.cpuUsPerPacket,
      r.cpuPctPerCall,
      r.generatorCpuPct,
      r.rcvbufErrors,
      r.load,
    ].map(String),
  );
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(w[i]!)).join('  ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  for (const s of summary) {
    console.log(
      `${s.mode}: builtin/rtpengine CPU per packet ${s.ratios.map((r) => `${r.ratio}x@${r.calls}`).join(', ') || 'n/a'}; ` +
        `max calls under 0.1% loss: ${Object.entries(s.maxCalls)
          .map(([e, n]) => `${e} ${n}`)
          .join(', ')}`,
    );
  }
}
