import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../../api';
import { TimeChart } from '../../components/TimeChart';
import { Link, useLocation } from '../../router';
import { useSession } from '../../session';
import { ErrorAlert, meterLabel, num, previousMonth, seg, utc } from './common';
import { CsvDownload } from './csv-download';
import { PeriodInput } from './period-input';
import type { FlagRow, Hold, MeterStatement, ReportLine, Statement } from './types';

/** `/finance/statement/:customer`: what was metered, sent to Stripe, corrected late and held, per meter. */
export function StatementPage(props: { params: Record<string, string> }) {
  const customer = props.params.customer ?? '';
  const { query } = useLocation();
  const [period, setPeriod] = useState(query.get('period') ?? previousMonth());
  const statement = useQuery({
    queryKey: ['statement', customer, period],
    queryFn: () => api<Statement>(`/v1/statements/${seg(customer)}`, { query: { period } }),
    placeholderData: keepPreviousData,
  });
  const s = statement.data;

  return (
    <section>
      <h1 id="statement-heading">Statement — {customer}</h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <PeriodInput id="statement-period" value={period} onChange={setPeriod} error={statement.error} />
      </form>
      <div className="actions">
        <CsvDownload customer={customer} period={period} /> ·{' '}
        <Link to={`/finance/ledger/${seg(customer)}?period=${seg(period)}`}>Ledger</Link>
      </div>
      <ErrorAlert error={statement.error} shownFields={['period']} />
      {statement.isPending && <p>Loading the statement…</p>}
      {s && (
        <>
          <p>
            {s.customer.name ? `${s.customer.name}, ` : ''}
            period {utc(s.period.start)} to {utc(s.period.end)} (end exclusive);{' '}
            {s.closedThrough ? `closed through ${s.closedThrough}` : 'no day of it closed yet'}.
            {s.customer.stripeCustomerId ? ` Stripe customer ${s.customer.stripeCustomerId}.` : ' No Stripe customer set.'}
          </p>
          {s.meters.map((m) => (
            <MeterSection key={m.meter} customer={customer} meter={m} />
          ))}
        </>
      )}
    </section>
  );
}

function MeterSection(props: { customer: string; meter: MeterStatement }) {
  const { meter: m } = props;
  const label = meterLabel(m.meter);
  const x = m.daily.map((d) => Date.parse(`${d.day}T00:00:00Z`) / 1000);
  const series: { label: string; values: (number | null)[] }[] = [
    { label: m.formula === 'sum' ? 'Daily value' : 'Period to date', values: m.daily.map((d) => d.value) },
  ];
  // `last` meters bill the latest day's period-to-date figure; the day's own figure is what varies day by day.
  if (m.formula === 'last') series.push({ label: 'Day figure', values: m.daily.map((d) => d.dayFigure ?? null) });
  const sent = m.reports.filter((r) => r.revision === 0);
  const headingId = `meter-${m.meter}`;
  return (
    <section className="meter-statement">
      <h2 id={headingId}>{label}</h2>
      <p>
        Billed <strong>{num(m.billed)}</strong>, reported to Stripe <strong>{num(m.reportedTotal)}</strong>,{' '}
        {m.unreported === 0 ? 'nothing unreported' : <strong className="difference">{num(m.unreported)} unreported</strong>}.
      </p>
      {m.daily.length > 0 ? <TimeChart title={`${label}, daily values`} x={x} series={series} /> : <p>No closed days in this period.</p>}
      <section>
        <h3 id={`${headingId}-sent`}>Sent to Stripe</h3>
        <ReportTable lines={sent} caption={`${label}: meter events reported to Stripe`} />
      </section>
      <section>
        <h3 id={`${headingId}-late`}>Late corrections</h3>
        <ReportTable lines={m.corrections} caption={`${label}: late corrections (revisions above 0)`} />
      </section>
      <section>
        <h3 id={`${headingId}-held`}>Held usage</h3>
        <HeldList customer={props.customer} meter={m.meter} holds={m.held} />
      </section>
    </section>
  );
}

function ReportTable(props: { lines: ReportLine[]; caption: string }) {
  if (props.lines.length === 0) return <p>None.</p>;
  return (
    <table>
      <caption className="visually-hidden">{props.caption}</caption>
      <thead>
        <tr>
          <th scope="col">Identifier</th>
          <th scope="col">Day</th>
          <th scope="col">Revision</th>
          <th scope="col">Value</th>
          <th scope="col">State</th>
          <th scope="col">Sent at</th>
        </tr>
      </thead>
      <tbody>
        {props.lines.map((r) => (
          <tr key={r.identifier} className={r.state === 'error' ? 'has-difference' : undefined}>
            <td>
              <code>{r.identifier}</code>
            </td>
            <td>{r.day}</td>
            <td className="num">{r.revision}</td>
            <td className="num">{num(r.value)}</td>
            <td>
              {r.state}
              {r.lastError ? ` (${r.lastError})` : ''}
            </td>
            <td>{utc(r.sentAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * The statement's holds, each linked to the flag holding it. A hold names only customer, meter and days,
 * so the flag is found among the customer's holding flags of that meter whose window touches those days.
 * Finance cannot read flags (analyst and admin only), so for finance the holds are listed unlinked.
 */
function HeldList(props: { customer: string; meter: string; holds: Hold[] }) {
  const { role } = useSession();
  const canReadFlags = role === 'analyst' || role === 'admin';
  const flags = useQuery({
    queryKey: ['flags', 'holding', props.customer, props.meter],
    queryFn: () => api<{ flags: FlagRow[] }>('/v1/flags', { query: { customer: props.customer, meter: props.meter, limit: 200 } }),
    enabled: canReadFlags && props.holds.length > 0,
  });
  if (props.holds.length === 0) return <p>Nothing held.</p>;
  return (
    <ul>
      {props.holds.map((h) => {
        const flag = flags.data?.flags.find((f) => f.holding && overlaps(f.window, h));
        const days = `${h.from} to ${h.to} (end exclusive)`;
        return (
          <li key={`${h.from}:${h.to}`}>
            {days}
            {flag ? (
              <>
                {' '}
                — held by <Link to={`/flags/${seg(flag.id)}`}>flag {flag.id}</Link> ({flag.rule}, {flag.status})
              </>
            ) : canReadFlags && flags.isSuccess ? (
              ' — the holding flag was not found'
            ) : (
              ''
            )}
          </li>
        );
      })}
    </ul>
  );
}

/** Whether a flag's window (ISO times) touches a hold's UTC days `[from, to)`. */
function overlaps(window: { from: string; to: string }, hold: Hold): boolean {
  const from = Date.parse(window.from);
  const to = Date.parse(window.to);
  const holdFrom = Date.parse(`${hold.from}T00:00:00Z`);
  const holdTo = Date.parse(`${hold.to}T00:00:00Z`);
  // A window that is a single instant still touches the day it falls on.
  return from < holdTo && (to > holdFrom || from >= holdFrom);
}
