// Carrier quality (GET /quality, every 2 s): each carrier's and gateway's
// rolling ASR, NER, ACD, PDD and MOS, whether it is demoted (until when and
// why), and the carriers' ASR over time (a point a minute, and now).
import { useEffect } from 'preact/hooks';
import { api } from '../api';
import { Card, Figure } from '../components/Card';
import { Chart } from '../components/Chart';
import { Table, txt } from '../components/Table';
import { useLoad } from '../load';
import type { Quality as QualityData, QualityEntity } from '../types';

/** The window and the thresholds in force, in words (a threshold of 0 is not judged). */
function thresholdsText(c: QualityData['config']): string {
  const judged = [
    c.minAsr > 0 ? `ASR >= ${c.minAsr}%` : null,
    c.minNer > 0 ? `NER >= ${c.minNer}%` : null,
    c.maxPdd > 0 ? `PDD <= ${c.maxPdd} ms` : null,
    c.minMos > 0 ? `MOS >= ${c.minMos}` : null,
  ].filter((t) => t !== null);
  const window = `Figures over the last ${c.window} attempts${c.windowMinutes > 0 ? ` of ${c.windowMinutes} min` : ''}.`;
  return judged.length === 0
    ? `${window} No threshold is set (routing.quality): nobody is demoted.`
    : `${window} After ${c.minCalls} attempts a carrier or gateway below ${judged.join(', ')} is tried after the others for ${c.coolDown} s.`;
}

const REFRESH_MS = 2000;
const COLORS = ['#2563eb', '#16a34a', '#dc2626', '#9333ea', '#ea580c', '#0891b2', '#4d7c0f', '#be185d'];

const demoted = (q: QualityEntity): boolean => q.demotedUntil !== null && Date.parse(q.demotedUntil) > Date.now();
const hms = (iso: string): string => new Date(iso).toTimeString().slice(0, 8);

export function Quality() {
  const { data, reload } = useLoad('quality', () => api<QualityData>('GET', '/quality'));
  useEffect(() => {
    const t = setInterval(() => void reload(), REFRESH_MS);
    return () => clearInterval(t);
  }, [reload]);
  const rows = data === undefined ? undefined : [...data.carriers, ...data.gateways];
  const down = data?.carriers.filter(demoted).length ?? 0;
  const c = data?.config;
  return (
    <div class="page">
      <h2>Quality</h2>
      <p class="hint" id="quality-thresholds">
        {c === undefined ? '' : thresholdsText(c)}
      </p>
      <div class="figures">
        <Figure id="fig-quality-carriers" label="carriers seen" value={data?.carriers.length ?? '-'} />
        <Figure id="fig-quality-demoted" label="demoted" value={down} tone={down > 0 ? 'bad' : 'good'} />
      </div>
      <Card title="Carriers and gateways">
        <Table<QualityEntity>
          id="quality-table"
          rows={rows}
          rowKey={(q) => `${q.carrier} ${q.gateway ?? '*'}`}
          empty="No attempt toward a carrier yet."
          emptyId="quality-empty"
          columns={[
            { head: 'Carrier', cell: (q) => q.carrier },
            { head: 'Gateway', cell: (q) => q.gateway ?? 'all', cls: 'mono' },
            { head: 'Attempts', cell: (q) => String(q.attempts), cls: 'num' },
            { head: 'ASR %', cell: (q) => txt(q.asr), cls: 'num' },
            { head: 'NER %', cell: (q) => txt(q.ner), cls: 'num' },
            { head: 'ACD s', cell: (q) => txt(q.acd), cls: 'num' },
            { head: 'PDD ms', cell: (q) => txt(q.pdd), cls: 'num' },
            { head: 'MOS', cell: (q) => txt(q.mos), cls: 'num' },
            {
              head: 'State',
              cell: (q) =>
                demoted(q) ? (
                  <span class="state gone" title={q.demotedFor ?? ''}>{`demoted until ${hms(q.demotedUntil!)}`}</span>
                ) : (
                  <span class="state alive">in use</span>
                ),
            },
            { head: 'Why', cell: (q) => (demoted(q) ? txt(q.demotedFor) : '-') },
          ]}
        />
      </Card>
      {data !== undefined && data.carriers.length > 0 && <AsrChart carriers={data.carriers} />}
    </div>
  );
}

/** The carriers' ASR over time: their points aligned on the same minutes (a carrier seen later has gaps before). */
function AsrChart({ carriers }: { carriers: QualityEntity[] }) {
  const times = [...new Set(carriers.flatMap((q) => q.history.map((p) => p.at)))].sort();
  return (
    <Card title="ASR per carrier (a point a minute, and now)" id="quality-chart-card">
      <Chart
        id="quality-chart"
        times={times}
        series={carriers.map((q, i) => ({
          label: q.carrier,
          color: COLORS[i % COLORS.length]!,
          values: carriedForward(q, times),
        }))}
      />
    </Card>
  );
}

/** A carrier's ASR at each time: its last point at or before it (null before its first: uPlot leaves a gap). */
function carriedForward(q: QualityEntity, times: string[]): number[] {
  let k = -1;
  return times.map((t) => {
    while (k + 1 < q.history.length && q.history[k + 1]!.at <= t) k++;
    return (k < 0 ? null : q.history[k]!.asr) as number;
  });
}
