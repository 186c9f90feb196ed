import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../../api';
import { Link, useLocation } from '../../router';
import { ErrorAlert, meterLabel, num, Pager, previousMonth, seg, useCursorPages, utc } from './common';
import { PeriodInput } from './period-input';
import type { PeriodRow, PeriodView } from './types';

/** `/finance`: the period close, a page of customers and meters with what is metered, reported, held and unaccounted. */
export function PeriodClosePage() {
  const { query } = useLocation();
  const [period, setPeriod] = useState(query.get('period') ?? previousMonth());
  const pages = useCursorPages(period);
  const view = useQuery({
    queryKey: ['period', period, pages.cursor],
    queryFn: () => api<PeriodView>(`/v1/periods/${seg(period)}`, { query: { limit: 50, cursor: pages.cursor } }),
    placeholderData: keepPreviousData,
  });
  const rows = view.data?.rows ?? [];
  const perRowDeadline = rows.some((r) => r.deadline && r.deadline !== view.data?.deadline);
  const open = rows.filter((r) => r.difference !== 0).length;

  return (
    <section>
      <h1 id="period-close-heading">Period close</h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <PeriodInput id="period-close-period" value={period} onChange={setPeriod} error={view.error} />
      </form>
      <p>
        <Link to={`/finance/reconcile?period=${seg(period)}`}>Reconcile this period</Link>
      </p>
      <ErrorAlert error={view.error} shownFields={['period']} />
      {view.data && (
        <>
          <p className="deadline">
            Invoice deadline: <strong>{utc(view.data.deadline)}</strong>
            {perRowDeadline && ' (customers with their own anchor day show theirs per row)'}
          </p>
          <p role="status">
            {rows.length === 0
              ? 'No customers in this period.'
              : open === 0
                ? `Every row on this page is accounted for (${rows.length} rows).`
                : `${open} of ${rows.length} rows on this page have a difference.`}
          </p>
          {rows.length > 0 && <PeriodTable rows={rows} period={period} perRowDeadline={perRowDeadline} />}
          <Pager pages={pages} nextCursor={view.data.cursor} />
        </>
      )}
      {view.isPending && <p>Loading the period…</p>}
    </section>
  );
}

function PeriodTable(props: { rows: PeriodRow[]; period: string; perRowDeadline: boolean }) {
  const { rows, period } = props;
  return (
    <table>
      <caption>Customers and meters for {period}</caption>
      <thead>
        <tr>
          <th scope="col">Customer</th>
          <th scope="col">Meter</th>
          <th scope="col">Metered</th>
          <th scope="col">Reported</th>
          <th scope="col">In Stripe</th>
          <th scope="col">Held</th>
          <th scope="col">Unreportable</th>
          <th scope="col">Difference</th>
          <th scope="col">Status</th>
          {props.perRowDeadline && <th scope="col">Deadline</th>}
          <th scope="col">Ledger</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={`${r.customerId}:${r.meter}`} className={r.difference !== 0 ? 'has-difference' : undefined}>
            <th scope="row">
              <Link to={`/finance/statement/${seg(r.customerId)}?period=${seg(period)}`}>
                {r.customerId}
                {r.name ? ` (${r.name})` : ''}
              </Link>
            </th>
            <td>{meterLabel(r.meter)}</td>
            <td className="num">{num(r.metered)}</td>
            <td className="num">{num(r.reported)}</td>
            <td className="num">{r.inStripe === null ? 'not asked' : num(r.inStripe)}</td>
            <td className="num">{num(r.held)}</td>
            <td className="num">{num(r.unreportable)}</td>
            <td className="num">
              <Difference value={r.difference} />
            </td>
            <td>{r.status}</td>
            {props.perRowDeadline && <td>{utc(r.deadline)}</td>}
            <td>
              <Link to={`/finance/ledger/${seg(r.customerId)}?meter=${seg(r.meter)}&period=${seg(period)}`}>Ledger of {r.customerId}</Link>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A difference in words as well as style, so it does not rest on colour alone. */
export function Difference(props: { value: number }) {
  const { value } = props;
  if (value === 0) return <span className="difference-none">0 (none)</span>;
  const words = value > 0 ? 'not accounted for' : 'over-reported';
  return (
    <strong className="difference">
      {num(value)} {words}
    </strong>
  );
}
