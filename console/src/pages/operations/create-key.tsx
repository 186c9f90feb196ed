import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../../api';
import { ErrorAlert, FieldError, fieldMessage, TextField } from '../finance/common';
import { KEY_ROLES } from './types';

interface CreatedKey {
  key: string;
  id: string;
  prefix: string;
  principal?: string;
  role?: string;
}

/**
 * The form that creates an API key. The API answers with the key once (only its hash is stored), so
 * it is shown here in a status region with a copy hint and is gone when the page is left.
 */
export function CreateKeyForm() {
  const queryClient = useQueryClient();
  const [role, setRole] = useState<string>('ingest');
  const [principal, setPrincipal] = useState('');
  const [source, setSource] = useState('');
  const [customers, setCustomers] = useState('');
  const [copied, setCopied] = useState(false);
  const create = useMutation({
    mutationFn: () => {
      const ids = customers
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean);
      return api<CreatedKey>('/v1/keys', {
        method: 'POST',
        body: {
          role,
          principal: principal.trim(),
          ...(source.trim() ? { source: source.trim() } : {}),
          ...(ids.length > 0 ? { customers: ids } : {}),
        },
      });
    },
    onMutate: () => setCopied(false),
    onSuccess: () => {
      setPrincipal('');
      setSource('');
      setCustomers('');
      queryClient.invalidateQueries({ queryKey: ['keys'] });
    },
  });
  const created = create.data;
  const roleError = fieldMessage(create.error, 'role') !== undefined;

  return (
    <section>
      <h2 id="create-key-heading">Create a key</h2>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <div className="field">
          <label htmlFor="key-role">Role</label>
          <select
            id="key-role"
            value={role}
            onChange={(e) => setRole(e.target.value)}
            aria-invalid={roleError || undefined}
            aria-describedby={roleError ? 'key-role-error' : undefined}
          >
            {KEY_ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
          <FieldError id="key-role-error" error={create.error} field="role" />
        </div>
        <TextField
          id="key-principal"
          label="Principal"
          value={principal}
          onChange={setPrincipal}
          required
          error={create.error}
          field="principal"
        />
        <TextField
          id="key-source"
          label="Source"
          value={source}
          onChange={setSource}
          placeholder={role === 'ingest' ? 'the event source it writes as' : 'ingest keys only'}
          error={create.error}
          field="source"
        />
        <TextField
          id="key-customers"
          label="Customers"
          value={customers}
          onChange={setCustomers}
          placeholder="comma separated; empty for any"
          error={create.error}
          field="customers"
        />
        <button type="submit" disabled={create.isPending}>
          Create key
        </button>
      </form>
      <ErrorAlert error={create.error} shownFields={['role', 'principal', 'source', 'customers']} />
      {created && !create.isPending && (
        <div role="status" className="new-key">
          <p>
            New {created.role ?? ''} key{created.principal ? ` for ${created.principal}` : ''}:{' '}
            <code data-testid="new-key">{created.key}</code>
          </p>
          <p>Copy it now: it is shown only this once and cannot be recovered.</p>
          {typeof navigator !== 'undefined' && navigator.clipboard && (
            <button
              type="button"
              onClick={() =>
                navigator.clipboard.writeText(created.key).then(
                  () => setCopied(true),
                  () => setCopied(false),
                )
              }
            >
              {copied ? 'Copied' : 'Copy key'}
            </button>
          )}
        </div>
      )}
    </section>
  );
}
