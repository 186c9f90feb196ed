import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../../api';
import { ErrorAlert, Pager, TextField, todayUtc, useCursorPages, utc } from '../finance/common';
import { BackToOperations } from './back';
import { countsText } from './overview';
import type { AuditEntry } from './types';

interface AuditFilters {
  day: string;
  actor: string;
  action: string;
  customer: string;
}

const FIELDS = ['day', 'actor', 'action', 'customer'];

/**
 * `/operations/audit`: one UTC day of the audit trail, newest first, narrowed by actor, action and
 * customer. The fields are edited freely and searched on **Search**, so each search is one query.
 */
export function AuditPage() {
  const [draft, setDraft] = useState<AuditFilters>({ day: todayUtc(), actor: '', action: '', customer: '' });
  const [search, setSearch] = useState<AuditFilters>(draft);
  const pages = useCursorPages(JSON.stringify(search));
  const trail = useQuery({
    queryKey: ['audit', search, pages.cursor],
    queryFn: () =>
      api<{ entries: AuditEntry[]; cursor?: string }>('/v1/audit', {
        query: {
          day: search.day.trim(),
          actor: search.actor.trim() || undefined,
          action: search.action.trim() || undefined,
          customer: search.customer.trim() || undefined,
          limit: 50,
          cursor: pages.cursor,
        },
      }),
    placeholderData: keepPreviousData,
  });
  const set = (field: keyof AuditFilters) => (value: string) => setDraft((d) => ({ ...d, [field]: value }));
  const entries = trail.data?.entries ?? [];

  return (
    <section>
      <BackToOperations />
      <h1 id="audit-heading">Audit trail</h1>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setSearch({ ...draft });
        }}
      >
        <TextField
          id="audit-day"
          label="Day"
          value={draft.day}
          onChange={set('day')}
          placeholder="YYYY-MM-DD"
          required
          error={trail.error}
          field="day"
        />
        <TextField id="audit-actor" label="Actor" value={draft.actor} onChange={set('actor')} error={trail.error} field="actor" />
        <TextField
          id="audit-action"
          label="Action"
          value={draft.action}
          onChange={set('action')}
          placeholder="e.g. flag.review"
          error={trail.error}
          field="action"
        />
        <TextField
          id="audit-customer"
          label="Customer"
          value={draft.customer}
          onChange={set('customer')}
          error={trail.error}
          field="customer"
        />
        <button type="submit">Search</button>
      </form>
      <ErrorAlert error={trail.error} shownFields={FIELDS} />
      {trail.isPending && <p>Searching…</p>}
      {trail.data && (
        <p role="status">
          {entries.length === 0
            ? `No audit entries on ${search.day} match.`
            : `${entries.length} ${entries.length === 1 ? 'entry' : 'entries'} on ${search.day}${trail.data.cursor ? ' on this page' : ''}.`}
        </p>
      )}
      {entries.length > 0 && (
        <table>
          <caption className="visually-hidden">Audit entries of {search.day}, newest first</caption>
          <thead>
            <tr>
              <th scope="col">At</th>
              <th scope="col">Action</th>
              <th scope="col">Actor</th>
              <th scope="col">Customer</th>
              <th scope="col">/24</th>
              <th scope="col">Region</th>
              <th scope="col">Counts</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.id}>
                <td>{utc(e.at)}</td>
                <td>
                  <code>{e.action}</code>
                </td>
                <td>{e.actor}</td>
                <td>{e.customerId ?? '—'}</td>
                <td>{e.ipPrefix ?? '—'}</td>
                <td>{e.region ?? '—'}</td>
                <td>{countsText(e.counts)}</td>
                <td>{detailsText(e.details)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {trail.data && <Pager pages={pages} nextCursor={trail.data.cursor} />}
    </section>
  );
}

/** Details as `key: value` pairs; nested values as compact JSON (they are small and already redacted when stored). */
function detailsText(details: Record<string, unknown> | undefined): string {
  const entries = Object.entries(details ?? {});
  if (entries.length === 0) return '—';
  return entries.map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join('; ');
}
