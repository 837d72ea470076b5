// A per-minute line chart (uPlot on a canvas). Times in ISO, one value
// series or more; redrawn with setData when the figures change. The plot
// is left on its element as `uplot` so tests read the data it draws.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  color: string;
  values: number[];
}

/** The chart's element, with its plot (for tests: `uplot.data` is [times, ...series]). */
type ChartElement = HTMLDivElement & { uplot?: uPlot };

/** Unix seconds as local HH:MM (24 h). */
const hhmm = (s: number): string => new Date(s * 1000).toTimeString().slice(0, 5);

export function Chart(props: { id: string; times: string[]; series: Series[]; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const data = (): uPlot.AlignedData => [
    props.times.map((t) => Date.parse(t) / 1000),
    ...props.series.map((s) => s.values),
  ];
  const labels = props.series.map((s) => s.label).join('|');

  // The plot is made once per set of series (their labels); new figures go in through setData below.
  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const p = new uPlot(
      {
        width: Math.max(240, el.clientWidth),
        height: props.height ?? 180,
        scales: { y: { range: (_u, _min, max) => [0, Math.max(1, Math.ceil(max * 1.1))] } },
        axes: [
          { stroke: '#56606d', grid: { stroke: '#eef0f3' }, values: (_u, splits) => splits.map(hhmm) },
          { stroke: '#56606d', grid: { stroke: '#eef0f3' }, size: 40 },
        ],
        series: [
          { label: 'minute', value: (_u, v) => (v === null ? '-' : hhmm(v)) },
          ...props.series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: 2,
            fill: `${s.color}22`,
            points: { show: false },
          })),
        ],
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
      },
      data(),
      el,
    );
    plot.current = p;
    (el as ChartElement).uplot = p;
    const resize = (): void => p.setSize({ width: Math.max(240, el.clientWidth), height: props.height ?? 180 });
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      p.destroy();
      plot.current = null;
      delete (el as ChartElement).uplot;
    };
  }, [labels]);

  useEffect(() => {
    plot.current?.setData(data());
  });

  const total = props.series.reduce((n, s) => n + s.values.reduce((a, b) => a + b, 0), 0);
  return (
    <div class="chart" id={props.id} ref={box} data-points={String(props.times.length)} data-total={String(total)} />
  );
}
