import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../../api';
import { Link, useLocation } from '../../router';
import { ErrorAlert, FieldError, METERS, meterLabel, num, Pager, seg, useCursorPages, utc } from './common';
import { PeriodInput } from './period-input';
import type { LedgerRow } from './types';

/** `/finance/ledger/:customer`: every meter event recorded for Stripe, with its state, attempts and last error. */
export function LedgerPage(props: { params: Record<string, string> }) {
  const customer = props.params.customer ?? '';
  const { query } = useLocation();
  const [meter, setMeter] = useState(query.get('meter') ?? '');
  const [period, setPeriod] = useState(query.get('period') ?? '');
  const pages = useCursorPages(`${customer}|${meter}|${period}`);
  const ledger = useQuery({
    queryKey: ['ledger', customer, meter, period, pages.cursor],
    queryFn: () =>
      api<{ records: LedgerRow[]; cursor?: string }>(`/v1/ledger/${seg(customer)}`, {
        query: { meter: meter || undefined, period: period || undefined, limit: 50, cursor: pages.cursor },
      }),
    placeholderData: keepPreviousData,
  });
  const records = ledger.data?.records ?? [];

  return (
    <section>
      <h1 id="ledger-heading">Ledger — {customer}</h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor="ledger-meter">Meter</label>
          <select id="ledger-meter" value={meter} onChange={(e) => setMeter(e.target.value)}>
            <option value="">All meters</option>
            {METERS.map((m) => (
              <option key={m} value={m}>
                {meterLabel(m)}
              </option>
            ))}
          </select>
          <FieldError id="ledger-meter-error" error={ledger.error} field="meter" />
        </div>
        <PeriodInput id="ledger-period" value={period} onChange={setPeriod} error={ledger.error} optional />
      </form>
      <p>
        <Link to={`/finance/statement/${seg(customer)}${period ? `?period=${seg(period)}` : ''}`}>Statement</Link>
      </p>
      <ErrorAlert error={ledger.error} shownFields={['meter', 'period']} />
      {ledger.isPending && <p>Loading the ledger…</p>}
      {ledger.data && records.length === 0 && <p role="status">No ledger records match.</p>}
      {records.length > 0 && (
        <table>
          <caption>Ledger records of {customer}</caption>
          <thead>
            <tr>
              <th scope="col">Day</th>
              <th scope="col">Meter</th>
              <th scope="col">Revision</th>
              <th scope="col">Value</th>
              <th scope="col">State</th>
              <th scope="col">Attempts</th>
              <th scope="col">Last error</th>
              <th scope="col">Sent at</th>
              <th scope="col">Period</th>
              <th scope="col">Run</th>
              <th scope="col">Identifier</th>
            </tr>
          </thead>
          <tbody>
            {records.map((r) => (
              <tr key={r.identifier} className={r.state === 'error' ? 'has-difference' : undefined}>
                <td>{r.day}</td>
                <td>{meterLabel(r.meter)}</td>
                <td className="num">{r.revision}</td>
                <td className="num">{num(r.value)}</td>
                <td>{r.state === 'error' ? <strong className="difference">error</strong> : r.state}</td>
                <td className="num">{r.attempts}</td>
                <td>{r.lastError ?? '—'}</td>
                <td>{utc(r.sentAt)}</td>
                <td>{r.periodKey}</td>
                <td>
                  <code>{r.runId}</code>
                </td>
                <td>
                  <code>{r.identifier}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {ledger.data && <Pager pages={pages} nextCursor={ledger.data.cursor} />}
    </section>
  );
}
