import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../../api';
import { useLocation } from '../../router';
import { useSession } from '../../session';
import { ErrorAlert, meterLabel, num, previousMonth, TextField } from './common';
import { PeriodInput } from './period-input';
import type { FixOutcome, ReconcileResult, ReconcileRow } from './types';

interface ReconcileRequest {
  period: string;
  customer?: string;
  fix?: boolean;
  reason?: string;
}

/**
 * `/finance/reconcile`: metered against reported against Stripe, per customer and meter, each
 * difference with its cause and what would fix it. Only admins may apply the fix, and only with a reason
 * (the API refuses otherwise and audits it), so the button asks for both a reason and a confirmation.
 */
export function ReconcilePage() {
  const { query } = useLocation();
  const { role } = useSession();
  const queryClient = useQueryClient();
  const [period, setPeriod] = useState(query.get('period') ?? previousMonth());
  const [customer, setCustomer] = useState(query.get('customer') ?? '');
  const [fixing, setFixing] = useState(false);
  const [reason, setReason] = useState('');
  const run = useMutation({
    mutationFn: (body: ReconcileRequest) => api<ReconcileResult>('/v1/reconcile', { method: 'POST', body }),
    onSuccess: (_result, body) => {
      if (!body.fix) return;
      setFixing(false);
      setReason('');
      // A fix sends ledger records: the period close, statements and ledgers read them.
      for (const key of ['period', 'statement', 'ledger']) queryClient.invalidateQueries({ queryKey: [key] });
    },
  });
  const request = (fix: boolean): ReconcileRequest => ({
    period,
    ...(customer.trim() ? { customer: customer.trim() } : {}),
    ...(fix ? { fix: true, reason } : {}),
  });
  const result = run.data;
  const differences = result?.rows.filter((r) => r.status !== 'ok') ?? [];

  return (
    <section>
      <h1 id="reconcile-heading">Reconciliation</h1>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          run.mutate(request(false));
        }}
      >
        <PeriodInput id="reconcile-period" value={period} onChange={setPeriod} error={run.error} />
        <TextField
          id="reconcile-customer"
          label="Customer"
          value={customer}
          onChange={setCustomer}
          placeholder="all customers"
          error={run.error}
          field="customer"
        />
        <button type="submit" disabled={run.isPending}>
          Run reconciliation
        </button>
      </form>
      <ErrorAlert error={run.error} shownFields={['period', 'customer', 'reason']} />
      {run.isPending && <p role="status">Reconciling…</p>}
      {result && !run.isPending && (
        <>
          <p role="status">
            {result.fixes.length > 0 ? `Fix applied: ${result.fixes.length} records sent. ` : ''}
            {result.differences === 0
              ? `Period ${result.period}: every row agrees (${result.rows.length} rows).`
              : `Period ${result.period}: ${result.differences} of ${result.rows.length} rows differ.`}
          </p>
          {differences.length > 0 && <DifferenceTable rows={differences} />}
          {result.fixes.length > 0 && <FixTable fixes={result.fixes} />}
          {result.unrepairable.length > 0 && (
            <p className="difference">{result.unrepairable.length} losses could not be repaired automatically; see the notes above.</p>
          )}
        </>
      )}
      {role === 'admin' && result && differences.length > 0 && !run.isPending && (
        <div className="fix">
          {!fixing ? (
            <button type="button" onClick={() => setFixing(true)}>
              Apply fix
            </button>
          ) : (
            <form
              onSubmit={(e) => {
                e.preventDefault();
                run.mutate(request(true));
              }}
            >
              <p>
                The fix re-sends stuck records to Stripe and records usage Stripe lost, for {customer.trim() || 'every customer'} in{' '}
                {period}. It is audited with your reason.
              </p>
              <TextField
                id="reconcile-reason"
                label="Reason"
                value={reason}
                onChange={setReason}
                required
                error={run.error}
                field="reason"
              />
              <button type="submit">Confirm fix</button>{' '}
              <button type="button" onClick={() => setFixing(false)}>
                Cancel
              </button>
            </form>
          )}
        </div>
      )}
    </section>
  );
}

function DifferenceTable(props: { rows: ReconcileRow[] }) {
  return (
    <table>
      <caption>Differences and their causes</caption>
      <thead>
        <tr>
          <th scope="col">Customer</th>
          <th scope="col">Meter</th>
          <th scope="col">Metered</th>
          <th scope="col">Reported</th>
          <th scope="col">In Stripe</th>
          <th scope="col">Status</th>
          <th scope="col">Action</th>
          <th scope="col">Cause</th>
        </tr>
      </thead>
      <tbody>
        {props.rows.map((r) => (
          <tr key={`${r.customerId}:${r.meter}`} className="has-difference">
            <th scope="row">{r.customerId}</th>
            <td>{meterLabel(r.meter)}</td>
            <td className="num">{num(r.metered)}</td>
            <td className="num">{num(r.reported)}</td>
            <td className="num">{r.stripe === null ? 'not asked' : num(r.stripe)}</td>
            <td>
              <strong className="difference">{r.status}</strong>
            </td>
            <td>{r.action}</td>
            <td>{r.note}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function FixTable(props: { fixes: FixOutcome[] }) {
  return (
    <table>
      <caption>Records the fix sent</caption>
      <thead>
        <tr>
          <th scope="col">Customer</th>
          <th scope="col">Meter</th>
          <th scope="col">Kind</th>
          <th scope="col">Day</th>
          <th scope="col">Value</th>
          <th scope="col">State</th>
        </tr>
      </thead>
      <tbody>
        {props.fixes.map((f) => (
          <tr key={f.identifier}>
            <th scope="row">{f.customerId}</th>
            <td>{meterLabel(f.meter)}</td>
            <td>{f.kind === 'repair_lost' ? 'lost usage repaired' : 'sent again'}</td>
            <td>{f.day}</td>
            <td className="num">{num(f.value)}</td>
            <td>
              {f.state}
              {f.error ? ` (${f.error})` : ''}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
