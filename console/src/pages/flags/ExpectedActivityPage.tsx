// Expected activity: usage a customer told us to expect (a backfill, a load test). The close records what the rules
// find inside it as expected instead of flagging and holding it.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, errorText } from '../../api';
import { formatDateTime } from '../../format';
import { navigate, useLocation } from '../../router';
import { useSession } from '../../session';
import { SetAside } from './SetAside';
import { type ExpectedActivity, METERS } from './types';

const DAY_MS = 86_400_000;

export function ExpectedActivityPage() {
  const { query } = useLocation();
  const customer = query.get('customer') ?? '';
  const [input, setInput] = useState(customer);
  return (
    <section>
      <h1>Expected activity</h1>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          navigate(`/flags/expected-activity${input.trim() ? `?customer=${encodeURIComponent(input.trim())}` : ''}`);
        }}
      >
        <label>
          Customer
          <input value={input} onChange={(e) => setInput(e.target.value)} />
        </label>
        <button type="submit">Show</button>
      </form>
      {customer ? <ForCustomer key={customer} customer={customer} /> : <p>Enter a customer to see and register expected activity.</p>}
    </section>
  );
}

function ForCustomer(props: { customer: string }) {
  const { customer } = props;
  const { role } = useSession();
  const client = useQueryClient();
  const base = `/v1/customers/${encodeURIComponent(customer)}/expected-activity`;
  const [status, setStatus] = useState<string | undefined>();
  const [shown, setShown] = useState<string | undefined>();
  const list = useQuery({
    queryKey: ['expected', customer],
    queryFn: () => api<{ expectedActivity: ExpectedActivity[]; cursor?: string }>(base, { query: { limit: 200 } }),
  });
  const withdraw = useMutation({
    mutationFn: (id: string) => api<ExpectedActivity>(`${base}/${encodeURIComponent(id)}`, { method: 'DELETE' }),
    onSuccess: (e) => {
      setStatus(`Withdrew the expectation from ${formatDateTime(e.from)}: the close flags such usage again.`);
      void client.invalidateQueries({ queryKey: ['expected', customer] });
    },
  });
  return (
    <>
      <Register
        base={base}
        onDone={(e) => {
          setStatus(`Registered expected activity ${formatDateTime(e.from)} to ${formatDateTime(e.to)}.`);
          void client.invalidateQueries({ queryKey: ['expected', customer] });
        }}
      />
      {status && <p role="status">{status}</p>}
      {list.error && <p role="alert">{errorText(list.error)}</p>}
      {withdraw.error && <p role="alert">{errorText(withdraw.error)}</p>}
      <table className="data">
        <caption>Expected activity of {customer}</caption>
        <thead>
          <tr>
            <th scope="col">From</th>
            <th scope="col">To</th>
            <th scope="col">Rules</th>
            <th scope="col">Meters</th>
            <th scope="col">Note</th>
            <th scope="col">By</th>
            <th scope="col">State</th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {(list.data?.expectedActivity ?? []).map((e) => (
            <tr key={e.id}>
              <td>{formatDateTime(e.from)}</td>
              <td>{formatDateTime(e.to)}</td>
              <td>{e.rules?.join(', ') || '–'}</td>
              <td>{e.meters?.length ? e.meters.join(', ') : 'all'}</td>
              <td>{e.reason}</td>
              <td>{e.createdBy}</td>
              <td>{e.withdrawnAt ? `withdrawn by ${e.withdrawnBy ?? '?'}` : 'active'}</td>
              <td>
                {!e.withdrawnAt && (
                  <button
                    type="button"
                    disabled={withdraw.isPending}
                    onClick={() =>
                      window.confirm('Withdraw this expectation? The close will flag such usage again.') && withdraw.mutate(e.id)
                    }
                  >
                    Withdraw
                  </button>
                )}{' '}
                {role === 'admin' && (
                  <button type="button" aria-expanded={shown === e.id} onClick={() => setShown(shown === e.id ? undefined : e.id)}>
                    What it set aside
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {list.data && list.data.expectedActivity.length === 0 && <p>No expected activity registered for {customer}.</p>}
      {role !== 'admin' && <p className="hint">What an expectation set aside is recorded in the audit trail (admins).</p>}
      {shown && list.data?.expectedActivity.find((e) => e.id === shown) && (
        <SetAside expectation={list.data.expectedActivity.find((e) => e.id === shown) as ExpectedActivity} />
      )}
    </>
  );
}

function Register(props: { base: string; onDone: (e: ExpectedActivity) => void }) {
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [meter, setMeter] = useState('');
  const [note, setNote] = useState('');
  const m = useMutation({
    mutationFn: () =>
      api<ExpectedActivity>(props.base, {
        method: 'POST',
        body: {
          from: from ? `${from}T00:00:00Z` : from,
          // The last day is inclusive on the form; the API's windows are half-open, so it ends at the next midnight.
          to: to ? new Date(Date.parse(`${to}T00:00:00Z`) + DAY_MS).toISOString() : to,
          ...(meter ? { meters: [meter] } : {}),
          reason: note,
        },
      }),
    onSuccess: (e) => {
      setFrom('');
      setTo('');
      setNote('');
      props.onDone(e);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    m.mutate();
  };
  return (
    <form className="register" onSubmit={submit} noValidate>
      <h2>Register a window</h2>
      <label>
        From (first UTC day)
        <input type="date" value={from} onChange={(e) => setFrom(e.target.value)} required />
      </label>
      <label>
        To (last UTC day)
        <input type="date" value={to} onChange={(e) => setTo(e.target.value)} required />
      </label>
      <label>
        Meter
        <select value={meter} onChange={(e) => setMeter(e.target.value)}>
          <option value="">all meters</option>
          {METERS.map((x) => (
            <option key={x}>{x}</option>
          ))}
        </select>
      </label>
      <label>
        Note
        <input value={note} onChange={(e) => setNote(e.target.value)} required />
      </label>
      <button type="submit" disabled={m.isPending}>
        Register
      </button>
      {m.error && <p role="alert">{errorText(m.error)}</p>}
    </form>
  );
}
