/**
 * Carrier quality as Prometheus gauges (src/trunking/quality.ts): per
 * carrier `trunkline_carrier_{asr,ner,acd_seconds,pdd_seconds,mos,demoted}`,
 * per gateway the same as `trunkline_gateway_...` with a `gateway` label.
 * A figure nothing measured yet (no answered call for ACD and MOS) is left out.
 * And the calls holding a place in each carrier's and gateway's capacity
 * (src/trunking/gateway-load.ts).
 */
import type { Metrics } from '../metrics/metrics.js';
import type { EntityQuality, QualitySnapshot } from '../trunking/quality.js';

type Row = [Record<string, string>, number];

const FIGURES: ReadonlyArray<[suffix: string, help: string, read: (q: EntityQuality) => number | null]> = [
  ['asr', 'answer-seizure ratio over the rolling window, percent', (q) => q.asr],
  ['ner', 'network effectiveness ratio over the rolling window, percent', (q) => q.ner],
  ['acd_seconds', 'average duration of the answered calls in the rolling window', (q) => q.acd],
  ['pdd_seconds', 'average post-dial delay over the rolling window', (q) => (q.pdd === null ? null : q.pdd / 1000)],
  ['mos', 'average MOS estimate of the answered calls in the rolling window', (q) => q.mos],
  ['attempts', 'attempts in the rolling window', (q) => q.attempts],
];

export function registerQualityMetrics(m: Metrics, read: () => QualitySnapshot): void {
  const now = (): number => Date.now();
  for (const kind of ['carrier', 'gateway'] as const) {
    const list = (): EntityQuality[] => (kind === 'carrier' ? read().carriers : read().gateways);
    const labels = (q: EntityQuality): Record<string, string> =>
      kind === 'carrier' ? { carrier: q.carrier } : { carrier: q.carrier, gateway: q.gateway ?? '' };
    const names = kind === 'carrier' ? ['carrier'] : ['carrier', 'gateway'];
    for (const [suffix, help, figure] of FIGURES)
      m.gauge(
        `trunkline_${kind}_${suffix}`,
        `${kind}s: ${help}`,
        () =>
          list().flatMap((q): Row[] => {
            const v = figure(q);
            return v === null ? [] : [[labels(q), v]];
          }),
        names,
      );
    m.gauge(
      `trunkline_${kind}_demoted`,
      `${kind}s: 1 while demoted for their quality figures (tried after the others), else 0`,
      () => list().map((q): Row => [labels(q), q.demotedUntil !== null && q.demotedUntil > now() ? 1 : 0]),
      names,
    );
  }
}

/** One carrier's (gateway null) or gateway's calls holding a place in its capacity now. */
export interface LoadFigure {
  carrier: string;
  gateway: string | null;
  calls: number;
}

/** `trunkline_carrier_calls{carrier}` and `trunkline_gateway_calls{carrier,gateway}`: calls up or being set up now. */
export function registerLoadMetrics(m: Metrics, read: () => LoadFigure[]): void {
  m.gauge(
    'trunkline_carrier_calls',
    'carriers: calls up or being set up on their gateways now (the capacity counts them)',
    () => read().flatMap((l): Row[] => (l.gateway === null ? [[{ carrier: l.carrier }, l.calls]] : [])),
    ['carrier'],
  );
  m.gauge(
    'trunkline_gateway_calls',
    'carrier gateways: calls up or being set up on them now (the capacity counts them)',
    () =>
      read().flatMap((l): Row[] => (l.gateway === null ? [] : [[{ carrier: l.carrier, gateway: l.gateway }, l.calls]])),
    ['carrier', 'gateway'],
  );
}
