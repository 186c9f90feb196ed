import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../../api';
import { ErrorAlert, FieldError, num, Pager, TextField, useCursorPages, utc } from '../finance/common';
import { BackToOperations } from './back';
import { QUARANTINE_REASONS, type QuarantineItem } from './types';

/** The route answers `kept` as the items left with why (the spec's shape says a count: both are read). */
interface ReplayResult {
  replayed: number;
  kept: number | { customerId: string; reason: string; key: string; why: string }[];
}

const REASON_LABELS: Record<string, string> = {
  unknown_customer: 'Unknown customer',
  invalid: 'Invalid event',
  malformed_message: 'Malformed message',
};

/**
 * `/operations/quarantine`: events that could not be counted, grouped by reason with their field errors.
 * One **Replay** button replays what the Reason and Customer filters select (all of it when both are
 * empty), so replaying one reason is a filter away and the page has a single button of that name.
 */
export function QuarantinePage() {
  const queryClient = useQueryClient();
  const [reason, setReason] = useState('');
  const [customer, setCustomer] = useState('');
  const filters = { reason: reason || undefined, customer: customer.trim() || undefined };
  const pages = useCursorPages(`${reason}|${filters.customer ?? ''}`);
  const list = useQuery({
    queryKey: ['quarantine', filters, pages.cursor],
    queryFn: () =>
      api<{ items: QuarantineItem[]; cursor?: string }>('/v1/quarantine', {
        query: { ...filters, limit: 100, cursor: pages.cursor },
      }),
    placeholderData: keepPreviousData,
  });
  const replay = useMutation({
    mutationFn: () =>
      api<ReplayResult>('/v1/quarantine/replay', {
        method: 'POST',
        body: { ...(filters.reason ? { reason: filters.reason } : {}), ...(filters.customer ? { customer: filters.customer } : {}) },
      }),
    onSettled: () => {
      queryClient.invalidateQueries({ queryKey: ['quarantine'] });
      queryClient.invalidateQueries({ queryKey: ['health'] });
    },
  });
  const items = list.data?.items ?? [];
  const groups = QUARANTINE_REASONS.map((r): { reason: string; items: QuarantineItem[] } => ({
    reason: r,
    items: items.filter((i) => i.reason === r),
  }))
    .concat([{ reason: 'other', items: items.filter((i) => !(QUARANTINE_REASONS as readonly string[]).includes(i.reason)) }])
    .filter((g) => g.items.length > 0);
  const scope = [filters.reason && REASON_LABELS[filters.reason], filters.customer].filter(Boolean).join(', ');

  return (
    <section>
      <BackToOperations />
      <h1 id="quarantine-heading">Quarantine</h1>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          replay.mutate();
        }}
      >
        <div className="field">
          <label htmlFor="quarantine-reason">Reason</label>
          <select id="quarantine-reason" value={reason} onChange={(e) => setReason(e.target.value)}>
            <option value="">All reasons</option>
            {QUARANTINE_REASONS.map((r) => (
              <option key={r} value={r}>
                {REASON_LABELS[r]}
              </option>
            ))}
          </select>
          <FieldError id="quarantine-reason-error" error={replay.error ?? list.error} field="reason" />
        </div>
        <TextField
          id="quarantine-customer"
          label="Customer"
          value={customer}
          onChange={setCustomer}
          placeholder="all customers"
          error={replay.error ?? list.error}
          field="customer"
        />
        <button type="submit" disabled={replay.isPending}>
          Replay
        </button>
        <span className="hint">Replays {scope ? `the quarantined events of ${scope}` : 'every quarantined event'}.</span>
      </form>
      {replay.isPending && <p role="status">Replaying…</p>}
      {replay.data && !replay.isPending && <ReplayOutcome result={replay.data} />}
      <ErrorAlert error={replay.error} shownFields={['reason', 'customer']} />
      <ErrorAlert error={list.error} shownFields={['reason', 'customer']} />
      {list.isPending && <p>Loading the quarantine…</p>}
      {list.data && items.length === 0 && <p>Nothing quarantined{scope ? ` for ${scope}` : ''}.</p>}
      {groups.map((g) => (
        <section key={g.reason}>
          <h2 id={`quarantine-${g.reason}`}>
            {REASON_LABELS[g.reason] ?? 'Other'} ({num(g.items.length)} on this page)
          </h2>
          <ItemsTable items={g.items} />
        </section>
      ))}
      {list.data && <Pager pages={pages} nextCursor={list.data.cursor} />}
    </section>
  );
}

function ItemsTable(props: { items: QuarantineItem[] }) {
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">Customer</th>
          <th scope="col">Field errors</th>
          <th scope="col">Replayable</th>
          <th scope="col">Origin</th>
          <th scope="col">Quarantined</th>
          <th scope="col">Attempts</th>
          <th scope="col">Last error</th>
          <th scope="col">Key</th>
        </tr>
      </thead>
      <tbody>
        {props.items.map((i) => (
          <tr key={`${i.reason}:${i.key}`}>
            <th scope="row">{i.customerId}</th>
            <td>
              {i.errors.length === 0 ? (
                '—'
              ) : (
                <ul className="field-errors">
                  {i.errors.map((e) => (
                    <li key={`${e.field}:${e.message}`}>
                      <code>{e.field}</code>: {e.message}
                    </li>
                  ))}
                </ul>
              )}
            </td>
            <td>{i.replayable ? 'yes' : 'no (cannot succeed)'}</td>
            <td>{i.origin}</td>
            <td>{utc(i.quarantinedAt)}</td>
            <td className="num">{i.attempts}</td>
            <td>{i.lastError ?? '—'}</td>
            <td>
              <code>{i.key}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ReplayOutcome(props: { result: ReplayResult }) {
  const { replayed, kept } = props.result;
  const keptItems = Array.isArray(kept) ? kept : [];
  const keptCount = Array.isArray(kept) ? kept.length : kept;
  return (
    <div role="status">
      <p>
        Replayed {num(replayed)}; {num(keptCount)} kept in quarantine.
      </p>
      {keptItems.length > 0 && (
        <ul>
          {keptItems.slice(0, 20).map((k) => (
            <li key={`${k.reason}:${k.key}`}>
              {k.customerId}: {k.why}
            </li>
          ))}
          {keptItems.length > 20 && <li>and {num(keptItems.length - 20)} more</li>}
        </ul>
      )}
    </div>
  );
}
