// The analysts' queue: open flags in urgency order (the API's order; the console never re-sorts), paged by cursor.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { api, errorText } from '../../api';
import { formatNumber, formatWindow } from '../../format';
import { Link, navigate, useLocation } from '../../router';
import { BulkDismiss } from './BulkDismiss';
import { filtersOf, rememberQueue, takeFlash } from './queue-memory';
import { type FlagPage, METERS, RULE_LABELS, ruleLabel, SEVERITIES, STATUSES } from './types';

const PAGE_SIZE = 25;

export function QueuePage() {
  const { query } = useLocation();
  const filters = filtersOf(query);
  const filterKey = new URLSearchParams(Object.entries(filters).filter((e): e is [string, string] => !!e[1])).toString();
  // A new filter starts again from the first page.
  return <Queue key={filterKey} filters={filters} filterKey={filterKey} />;
}

function Queue(props: { filters: Record<string, string | undefined>; filterKey: string }) {
  const { filters, filterKey } = props;
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [status, setStatus] = useState<string | undefined>(takeFlash);
  const cursor = cursors[cursors.length - 1];
  const client = useQueryClient();
  const q = useQuery({
    queryKey: ['flags', filterKey, cursor],
    queryFn: () => api<FlagPage>('/v1/flags', { query: { ...filters, limit: PAGE_SIZE, cursor } }),
    placeholderData: keepPreviousData,
  });

  useEffect(() => {
    if (q.data) rememberQueue({ filters: filterKey, cursor, ids: q.data.flags.map((f) => f.id) });
  }, [q.data, filterKey, cursor]);

  const bulk = useMutation({
    mutationFn: (body: { ids: string[]; note: string }) =>
      api<{ results: { id: string; ok: boolean; error?: string }[] }>('/v1/flags/review', {
        method: 'POST',
        body: { ...body, decision: 'dismiss' },
      }),
    onSuccess: (res) => {
      const ok = res.results.filter((r) => r.ok).length;
      const failed = res.results.filter((r) => !r.ok);
      setStatus(`Dismissed ${ok} of ${res.results.length} flags.${failed.length ? ` ${failed.length} could not be dismissed.` : ''}`);
      setSelected(new Set(failed.map((f) => f.id)));
      void client.invalidateQueries({ queryKey: ['flags'] });
    },
  });

  const rows = q.data?.flags ?? [];
  const toggle = (id: string) =>
    setSelected((s) => {
      const next = new Set(s);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  return (
    <section>
      <h1>Flag queue</h1>
      <p>
        <Link to="/flags/expected-activity">Expected activity</Link>
      </p>
      <Filters filters={filters} />
      {status && <p role="status">{status}</p>}
      {q.error && <p role="alert">{errorText(q.error)}</p>}
      {bulk.error && <p role="alert">{errorText(bulk.error)}</p>}
      {bulk.data?.results.some((r) => !r.ok) && (
        <ul role="alert" className="errors">
          {bulk.data.results
            .filter((r) => !r.ok)
            .map((r) => (
              <li key={r.id}>
                {r.id}: {r.error ?? 'failed'}
              </li>
            ))}
        </ul>
      )}
      <BulkDismiss
        count={selected.size}
        pending={bulk.isPending}
        onDismiss={(note) => bulk.mutateAsync({ ids: [...selected], note }).then(() => undefined)}
      />
      <table className="data">
        <caption className="visually-hidden">Flags, most urgent first</caption>
        <thead>
          <tr>
            <th scope="col">
              <span className="visually-hidden">Select</span>
            </th>
            <th scope="col">Customer</th>
            <th scope="col">Rule</th>
            <th scope="col">Meter</th>
            <th scope="col">Window</th>
            <th scope="col">Severity</th>
            <th scope="col">Score</th>
            <th scope="col">Held</th>
            <th scope="col">Days left</th>
            <th scope="col">Assigned</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((f) => (
            <tr key={f.id}>
              <td>
                <input type="checkbox" aria-label={`Select flag ${f.id}`} checked={selected.has(f.id)} onChange={() => toggle(f.id)} />
              </td>
              <td>
                <Link to={`/flags/${encodeURIComponent(f.id)}`}>
                  {f.customerId}
                  <span className="visually-hidden"> — {ruleLabel(f.rule)} flag</span>
                </Link>
              </td>
              <td>{ruleLabel(f.rule)}</td>
              <td>{f.meter}</td>
              <td>{formatWindow(f.window)}</td>
              <td className={`severity severity-${f.severity}`}>{f.severity}</td>
              <td>{f.score.toFixed(2)}</td>
              <td>{f.holding ? formatNumber(f.heldQuantity) : 'Not held'}</td>
              <td className={f.daysLeft !== undefined && f.daysLeft <= 3 ? 'urgent' : undefined}>
                {f.daysLeft === undefined ? '–' : `${f.daysLeft}${f.daysLeft <= 3 ? ' (urgent)' : ''}`}
              </td>
              <td>{f.claim?.by ?? 'Unassigned'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {q.isPending && <p role="status">Loading flags…</p>}
      {q.data && rows.length === 0 && <p role="status">No flags match these filters.</p>}
      <div className="pager">
        <button type="button" disabled={cursors.length <= 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
          Previous page
        </button>
        <button
          type="button"
          disabled={!q.data?.cursor || q.isPlaceholderData}
          onClick={() => q.data?.cursor && setCursors((c) => [...c, q.data.cursor])}
        >
          Next page
        </button>
      </div>
    </section>
  );
}

function Filters(props: { filters: Record<string, string | undefined> }) {
  const { filters } = props;
  const [customer, setCustomer] = useState(filters.customer ?? '');
  const set = (name: string, value: string) => {
    const next = new URLSearchParams(window.location.search);
    // Status keeps an explicit empty value for "any", since its absence means the default (open).
    if (value || name === 'status') next.set(name, value);
    else next.delete(name);
    navigate(`/flags?${next}`, { replace: true });
  };
  // Typing in Customer filters once the analyst pauses, not on every key.
  useEffect(() => {
    if (customer === (filters.customer ?? '')) return;
    const t = setTimeout(() => set('customer', customer.trim()), 350);
    return () => clearTimeout(t);
  });
  const select = (name: string, label: string, options: [string, string][], value: string | undefined) => (
    <label>
      {label}
      <select value={value ?? ''} onChange={(e) => set(name, e.target.value)}>
        {options.map(([v, text]) => (
          <option key={v} value={v}>
            {text}
          </option>
        ))}
      </select>
    </label>
  );
  return (
    <form
      className="filters"
      onSubmit={(e) => {
        e.preventDefault();
        set('customer', customer.trim());
      }}
    >
      {select('status', 'Status', [...STATUSES.map((s): [string, string] => [s, s]), ['', 'any']], filters.status)}
      {select('severity', 'Severity', [['', 'any'], ...SEVERITIES.map((s): [string, string] => [s, s])], filters.severity)}
      {select('rule', 'Rule', [['', 'any'], ...Object.entries(RULE_LABELS)], filters.rule)}
      <label>
        Customer
        <input type="search" value={customer} onChange={(e) => setCustomer(e.target.value)} />
      </label>
      {select('meter', 'Meter', [['', 'any'], ...METERS.map((m): [string, string] => [m, m])], filters.meter)}
    </form>
  );
}
