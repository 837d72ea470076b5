/**
 * bench/b2bua's tables and verdicts: each B2BUA mode against Trunkline's
 * proxy (target: at most 2x its CPU per call), and against Kamailio +
 * rtpengine doing the same job (target: at most 1.5x their summed CPU per
 * call). A mode left out (--modes) shows n/a and judges nothing.
 */
export type Mode = 'proxy' | 'inbound' | 'outbound' | 'kamailio-rtpengine';
export const ALL_MODES: Mode[] = ['proxy', 'inbound', 'outbound', 'kamailio-rtpengine'];
/** The peer: Kamailio + rtpengine, the B2BUA's job done by the usual open-source pair. */
export const PEER: Mode = 'kamailio-rtpengine';

export interface Step {
  mode: Mode;
  rate: number;
  calls: number;
  successful: number;
  failed: number;
  retransmissions: number;
  /** The servers' CPU summed (Trunkline's process, or Kamailio + rtpengine). */
  cpuMsPerCall: number;
  /** Each server's share of it, by name. */
  partsMsPerCall: Record<string, number>;
}

export interface Comparison {
  /** B2BUA mode CPU per call over the reference's, worst over rates and modes; null when nothing could be judged. */
  worst: number | null;
  target: number;
  met: boolean | null;
}

/** A figure of the table, or n/a for a mode that was not run. */
function figure(v: number): string {
  return Number.isFinite(v) ? v.toFixed(3) : 'n/a';
}

function times(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}x` : 'n/a';
}

function stepOf(steps: Step[], rate: number, mode: Mode): Step {
  return (
    steps.find((s) => s.rate === rate && s.mode === mode) ?? {
      mode,
      rate,
      calls: 0,
      successful: 0,
      failed: 0,
      retransmissions: 0,
      cpuMsPerCall: NaN,
      partsMsPerCall: {},
    }
  );
}

/** The inbound and outbound B2BUA against one reference mode, one row per rate; returns the verdict. */
function compare(
  out: (line: string) => void,
  steps: Step[],
  rates: number[],
  reference: Mode,
  refLabel: string,
  target: number,
): Comparison {
  out(`rate/s  ${refLabel.padStart(13)}  inbound ms/call (ratio)  outbound ms/call (ratio)  failed ref/i/o\n`);
  let worst = 0;
  for (const rate of rates) {
    const r = stepOf(steps, rate, reference);
    const i = stepOf(steps, rate, 'inbound');
    const o = stepOf(steps, rate, 'outbound');
    const ri = i.cpuMsPerCall / r.cpuMsPerCall;
    const ro = o.cpuMsPerCall / r.cpuMsPerCall;
    for (const x of [ri, ro]) if (Number.isFinite(x)) worst = Math.max(worst, x);
    out(
      `${String(rate).padStart(6)}  ${figure(r.cpuMsPerCall).padStart(13)}  ${figure(i.cpuMsPerCall).padStart(15)} (${times(ri)})  ${figure(o.cpuMsPerCall).padStart(16)} (${times(ro)})  ${r.failed}/${i.failed}/${o.failed}\n`,
    );
  }
  return worst > 0 ? { worst, target, met: worst <= target } : { worst: null, target, met: null };
}

function verdictLine(c: Comparison, reference: string, need: string): string {
  return c.met === null
    ? `target: not judged (${need} are both needed for a ratio)\n`
    : `target: B2BUA <= ${c.target.toFixed(2)}x ${reference} CPU per call: ${c.met ? 'met' : 'NOT met'} (worst ${c.worst!.toFixed(2)}x)\n`;
}

export function printReport(
  out: (line: string) => void,
  steps: Step[],
  rates: number[],
  load: number[],
  media: string,
): { proxy: Comparison; peer: Comparison } {
  const loadText = load.map((x) => x.toFixed(2)).join(' ');
  out(`\nTrunkline B2BUA vs Trunkline proxy, same run (load ${loadText})\n`);
  const proxy = compare(out, steps, rates, 'proxy', 'proxy ms/call', 2);
  out(verdictLine(proxy, "the proxy's", 'the proxy and a B2BUA mode'));
  out(`\nTrunkline B2BUA vs Kamailio + rtpengine (CPU summed), same run (load ${loadText})\n`);
  if (media !== 'builtin') out(`(Trunkline with --media ${media}: it anchors no media, rtpengine does)\n`);
  const peer = compare(out, steps, rates, PEER, 'K+r ms/call', 1.5);
  out(verdictLine(peer, "Kamailio + rtpengine's summed", 'kamailio-rtpengine and a B2BUA mode'));
  return { proxy, peer };
}
