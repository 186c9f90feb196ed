import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../../api';
import { ErrorAlert, Pager, seg, useCursorPages, utc } from '../finance/common';
import { BackToOperations } from './back';
import { CreateKeyForm } from './create-key';
import type { KeyRow } from './types';

/**
 * `/operations/keys`: the API keys, by their stored hash and prefix (a key itself is shown once, when
 * created, and never again), a form to create one, and **Revoke** per key, which asks to confirm: a
 * revoked key stops working at once.
 */
export function KeysPage() {
  const queryClient = useQueryClient();
  const pages = useCursorPages('keys');
  const [confirming, setConfirming] = useState<string | null>(null);
  const keys = useQuery({
    queryKey: ['keys', pages.cursor],
    queryFn: () => api<{ keys: KeyRow[]; cursor?: string }>('/v1/keys', { query: { limit: 50, cursor: pages.cursor } }),
    placeholderData: keepPreviousData,
  });
  const revoke = useMutation({
    mutationFn: (key: KeyRow) => api<unknown>(`/v1/keys/${seg(key.id)}`, { method: 'DELETE' }),
    onSettled: () => {
      setConfirming(null);
      queryClient.invalidateQueries({ queryKey: ['keys'] });
    },
  });
  const rows = keys.data?.keys ?? [];

  return (
    <section>
      <BackToOperations />
      <h1 id="keys-heading">API keys</h1>
      <CreateKeyForm />
      <ErrorAlert error={keys.error} />
      {revoke.isSuccess && !revoke.isPending && (
        <p role="status">
          Revoked the key of {revoke.variables.principal} ({revoke.variables.prefix}…). It no longer works.
        </p>
      )}
      <ErrorAlert error={revoke.error} />
      {keys.isPending && <p>Loading keys…</p>}
      {rows.length > 0 && (
        <table>
          <caption>Keys</caption>
          <thead>
            <tr>
              <th scope="col">Principal</th>
              <th scope="col">Prefix</th>
              <th scope="col">Role</th>
              <th scope="col">Source</th>
              <th scope="col">Customers</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Revoked</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((k) => (
              <tr key={k.id} className={k.revokedAt ? 'revoked' : undefined}>
                <th scope="row">{k.principal}</th>
                <td>
                  <code>{k.prefix}…</code>
                </td>
                <td>{k.role}</td>
                <td>{k.source ?? '—'}</td>
                <td>{k.customers?.join(', ') ?? (k.customerPrefix ? `${k.customerPrefix}*` : 'any')}</td>
                <td>{utc(k.createdAt)}</td>
                <td>{k.lastUsedAt ? utc(k.lastUsedAt) : 'never'}</td>
                <td>{k.revokedAt ? utc(k.revokedAt) : 'no'}</td>
                <td>
                  {k.revokedAt ? null : confirming === k.id ? (
                    <span className="confirm">
                      <button type="button" onClick={() => revoke.mutate(k)} disabled={revoke.isPending}>
                        Confirm revoke
                      </button>{' '}
                      <button type="button" onClick={() => setConfirming(null)}>
                        Cancel
                      </button>
                    </span>
                  ) : (
                    <button type="button" onClick={() => setConfirming(k.id)} aria-label={`Revoke ${k.principal} ${k.prefix}`}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {keys.data && rows.length === 0 && <p>No keys yet.</p>}
      {keys.data && <Pager pages={pages} nextCursor={keys.data.cursor} />}
    </section>
  );
}
