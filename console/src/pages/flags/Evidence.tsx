// The evidence of a flag: one chart per series (observed over the expected band, the flagged buckets and any expected
// activity shaded), the totals, and for a leaked key where the traffic came from.
import { useMemo } from 'react';
import { BarList } from '../../components/BarList';
import { type ChartSeries, type ChartWindow, TimeChart } from '../../components/TimeChart';
import { formatDateTime, formatNumber, toUnixSeconds } from '../../format';
import type { FlagDetail } from './types';

const STEP_S = { hour: 3600, day: 86400 } as const;

type Series = FlagDetail['evidence']['series'][number];

/** Consecutive flagged buckets become one shaded window. */
function flaggedWindows(series: Series): ChartWindow[] {
  const step = STEP_S[series.granularity];
  const out: ChartWindow[] = [];
  for (const p of series.points) {
    if (!p.flagged) continue;
    const t = toUnixSeconds(p.t);
    const last = out[out.length - 1];
    if (last && last.to === t) last.to = t + step;
    else out.push({ from: t, to: t + step, label: 'Flagged', kind: 'flagged' });
  }
  return out;
}

function SeriesChart(props: { series: Series; expected: FlagDetail['expectedActivity'] }) {
  const { series, expected } = props;
  const chart = useMemo(() => {
    const x = series.points.map((p) => toUnixSeconds(p.t));
    const lines: ChartSeries[] = [
      { label: 'Observed', values: series.points.map((p) => p.observed) },
      { label: 'Expected', values: series.points.map((p) => p.expected) },
      { label: 'Low', values: series.points.map((p) => p.lo), band: 'lo' },
      { label: 'High', values: series.points.map((p) => p.hi), band: 'hi' },
    ];
    const shaded: ChartWindow[] = [
      ...flaggedWindows(series),
      ...expected.map(
        (e): ChartWindow => ({
          from: toUnixSeconds(e.from),
          to: toUnixSeconds(e.to),
          label: `Expected activity${e.reason ? `: ${e.reason}` : ''}`,
          kind: 'expected',
        }),
      ),
    ];
    return { x, lines, shaded };
  }, [series, expected]);
  return <TimeChart title={series.name} x={chart.x} series={chart.lines} shaded={chart.shaded} />;
}

export function Evidence(props: { flag: FlagDetail }) {
  const { flag } = props;
  const ev = flag.evidence;
  return (
    <>
      <section aria-labelledby="ev-heading">
        <h2 id="ev-heading">Observed against expected</h2>
        <p>{ev.summary}</p>
        <dl className="figures">
          <div>
            <dt>Observed</dt>
            <dd>{formatNumber(ev.observed)}</dd>
          </div>
          <div>
            <dt>Expected</dt>
            <dd>{formatNumber(ev.expected)}</dd>
          </div>
          {Object.entries(ev.signals ?? {}).map(([k, v]) => (
            <div key={k}>
              <dt>{k.replace(/_/g, ' ')}</dt>
              <dd>{Number.isInteger(v) ? formatNumber(v) : v.toFixed(2)}</dd>
            </div>
          ))}
        </dl>
        {ev.series.map((s) => (
          <SeriesChart key={s.name} series={s} expected={flag.expectedActivity} />
        ))}
        {flag.expectedActivity.length > 0 && (
          <>
            <h3>Expected activity overlapping this evidence</h3>
            <ul>
              {flag.expectedActivity.map((e) => (
                <li key={e.id}>
                  {formatDateTime(e.from)} to {formatDateTime(e.to)}
                  {e.meters?.length ? ` (${e.meters.join(', ')})` : ''}: {e.reason ?? e.note ?? ''}
                </li>
              ))}
            </ul>
          </>
        )}
        {ev.alsoMatched && ev.alsoMatched.length > 0 && (
          <>
            <h3>Also matched</h3>
            <ul>
              {ev.alsoMatched.map((m) => (
                <li key={`${m.rule}-${m.meter ?? ''}`}>
                  {m.rule}
                  {m.meter ? ` on ${m.meter}` : ''} (score {m.score.toFixed(2)}){m.summary ? `: ${m.summary}` : ''}
                </li>
              ))}
            </ul>
          </>
        )}
      </section>
      {flag.rule === 'leaked_key' && (
        <div className="bars">
          <BarList
            title="Top /24 prefixes"
            items={(ev.topIpPrefixes ?? []).map((r) => ({ label: r.value, value: r.calls, marked: r.new ? 'new' : undefined }))}
          />
          <BarList
            title="Top countries"
            items={(ev.topCountries ?? []).map((r) => ({ label: r.value, value: r.calls, marked: r.new ? 'new' : undefined }))}
          />
        </div>
      )}
    </>
  );
}
