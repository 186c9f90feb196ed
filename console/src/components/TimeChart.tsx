// A uPlot time series inside a <figure>. The canvas is for sighted users; the same numbers are in a visually hidden
// table so a screen reader gets the data, not a picture of it.
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatDateTime, formatNumber } from '../format';

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  /** Marks the edges of the expected band; the two are filled between rather than drawn as lines. */
  band?: 'lo' | 'hi';
}
export interface ChartWindow {
  from: number;
  to: number;
  label: string;
  kind: 'flagged' | 'expected';
}

const LINE_COLOURS = ['#2f6fde', '#c2410c', '#15803d', '#7c3aed'];
const WINDOW_FILL: Record<ChartWindow['kind'], string> = {
  flagged: 'rgba(220, 38, 38, 0.16)',
  expected: 'rgba(37, 99, 235, 0.14)',
};
const BAND_FILL = 'rgba(120, 120, 120, 0.22)';

function axisColour(): string {
  return window.matchMedia?.('(prefers-color-scheme: dark)').matches ? '#c9ced6' : '#3a3f47';
}

export function TimeChart(props: { title: string; x: number[]; series: ChartSeries[]; shaded?: ChartWindow[]; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const { title, x, series, shaded, height } = props;
  // Callers may build fresh arrays on every render; the chart is rebuilt only when the data really changes.
  const dataKey = JSON.stringify([x, series, shaded, height]);
  const latest = useRef(props);
  latest.current = props;

  useEffect(() => {
    void dataKey;
    const { x, series, shaded, height } = latest.current;
    const el = box.current;
    if (!el || x.length === 0) return;
    const windows = shaded ?? [];
    const hi = series.findIndex((s) => s.band === 'hi');
    const lo = series.findIndex((s) => s.band === 'lo');
    let colour = 0;
    const stroke = axisColour();
    const opts: uPlot.Options = {
      width: Math.max(280, el.clientWidth || 640),
      height: height ?? 220,
      legend: { show: true },
      // The pipeline counts in UTC days; the axis must too, whatever the browser's zone.
      tzDate: (ts: number) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      axes: [
        { stroke, grid: { stroke: 'rgba(128,128,128,0.2)' } },
        // Wide enough for the longest tick label ("80,000" was cut to "0,000" at uPlot's default 50 px).
        { stroke, grid: { stroke: 'rgba(128,128,128,0.2)' }, size: (_u, values) => yAxisSize(values) },
      ],
      series: [
        {},
        ...series.map((s) =>
          s.band
            ? { label: s.label, stroke: 'rgba(120,120,120,0.6)', width: 1, dash: [4, 4] }
            : { label: s.label, stroke: LINE_COLOURS[colour++ % LINE_COLOURS.length], width: 2 },
        ),
      ],
      // uPlot series indexes are offset by one for the x series.
      bands: hi >= 0 && lo >= 0 ? [{ series: [hi + 1, lo + 1], fill: BAND_FILL }] : [],
      hooks: {
        // Windows are painted under the lines, as translucent rectangles spanning the plot's height.
        drawClear: [
          (u: uPlot) => {
            const { ctx, bbox } = u;
            ctx.save();
            for (const w of windows) {
              const left = u.valToPos(w.from, 'x', true);
              const right = u.valToPos(w.to, 'x', true);
              ctx.fillStyle = WINDOW_FILL[w.kind];
              ctx.fillRect(left, bbox.top, Math.max(2, right - left), bbox.height);
            }
            ctx.restore();
          },
        ],
      },
    };
    const data: uPlot.AlignedData = [x, ...series.map((s) => s.values)];
    const plot = new uPlot(opts, data, el);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(280, el.clientWidth), height: opts.height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [dataKey]);

  const kinds = [...new Set((shaded ?? []).map((w) => w.kind))];
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} className="chart-canvas" aria-hidden="true" />
      {kinds.length > 0 && (
        <ul className="chart-legend">
          {kinds.map((k) => (
            <li key={k}>
              <span className={`swatch swatch-${k}`} aria-hidden="true" />
              {k === 'flagged' ? 'Flagged window' : 'Expected activity'}
            </li>
          ))}
        </ul>
      )}
      <table className="visually-hidden">
        <caption>{title}: data</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            {series.map((s) => (
              <th key={s.label} scope="col">
                {s.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {x.map((t, i) => (
            <tr key={t}>
              <th scope="row">{formatDateTime(t * 1000)}</th>
              {series.map((s) => (
                <td key={s.label}>{s.values[i] == null ? '–' : formatNumber(s.values[i] as number)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {(shaded ?? []).length > 0 && (
        <ul className="visually-hidden">
          {(shaded ?? []).map((w) => (
            <li key={`${w.kind}-${w.from}`}>
              {w.label}: {formatDateTime(w.from * 1000)} to {formatDateTime(w.to * 1000)}
            </li>
          ))}
        </ul>
      )}
    </figure>
  );
}

/** Pixels for the y axis: its tick labels at about 7.5 px a character, plus the ticks and a gap. */
function yAxisSize(values: string[] | null): number {
  const longest = (values ?? []).reduce((n, v) => Math.max(n, String(v).length), 0);
  return Math.max(50, Math.ceil(longest * 7.5) + 24);
}
