// One flag: the evidence, what each decision would do, its history, the claim, and the decision itself.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, errorText } from '../../api';
import { formatDate, formatDateTime, formatNumber, formatWindow } from '../../format';
import { Link } from '../../router';
import { useSession } from '../../session';
import { Decision } from './Decision';
import { Evidence } from './Evidence';
import { takeFlash } from './queue-memory';
import { type Claim, type FlagDetail, ruleLabel } from './types';

export function FlagPage(props: { params: Record<string, string> }) {
  const id = props.params.id ?? '';
  const q = useQuery({ queryKey: ['flag', id], queryFn: () => api<FlagDetail>(`/v1/flags/${encodeURIComponent(id)}`) });
  const [status] = useState(takeFlash);
  if (q.error)
    return (
      <section>
        <h1>Flag {id}</h1>
        <p role="alert">{errorText(q.error)}</p>
        <Link to="/flags">Back to the queue</Link>
      </section>
    );
  if (!q.data) return <p role="status">Loading flag…</p>;
  return <FlagView flag={q.data} status={status} />;
}

function FlagView(props: { flag: FlagDetail; status?: string }) {
  const { flag } = props;
  const client = useQueryClient();
  const refresh = () => {
    void client.invalidateQueries({ queryKey: ['flag', flag.id] });
    void client.invalidateQueries({ queryKey: ['flags'] });
  };
  return (
    <article className="flag">
      <p>
        <Link to="/flags">Flag queue</Link>
      </p>
      <h1>
        {ruleLabel(flag.rule)} — {flag.customerId}
      </h1>
      {props.status && <p role="status">{props.status}</p>}
      <dl className="figures">
        <div>
          <dt>Status</dt>
          <dd>{flag.status}</dd>
        </div>
        <div>
          <dt>Meter</dt>
          <dd>{flag.meter}</dd>
        </div>
        <div>
          <dt>Window</dt>
          <dd>{formatWindow(flag.window)}</dd>
        </div>
        <div>
          <dt>Severity</dt>
          <dd className={`severity severity-${flag.severity}`}>{flag.severity}</dd>
        </div>
        <div>
          <dt>Score</dt>
          <dd>{flag.score.toFixed(2)}</dd>
        </div>
        <div>
          <dt>Held</dt>
          <dd>{flag.holding ? formatNumber(flag.heldQuantity) : 'Nothing held'}</dd>
        </div>
        {flag.escalateBy && (
          <div>
            <dt>Decide by</dt>
            <dd className={flag.daysLeft !== undefined && flag.daysLeft <= 3 ? 'urgent' : undefined}>
              {formatDate(flag.escalateBy)}
              {flag.daysLeft !== undefined ? ` (${flag.daysLeft} days left)` : ''}
            </dd>
          </div>
        )}
      </dl>
      <Evidence flag={flag} />
      <section aria-labelledby="impact-heading">
        <h2 id="impact-heading">What a decision does</h2>
        <dl>
          <dt>Confirm</dt>
          <dd>{flag.impact.confirm}</dd>
          <dt>Dismiss</dt>
          <dd>{flag.impact.dismiss}</dd>
        </dl>
      </section>
      {/* Not a labelled region: its name would also match the Note field's label in a by-label lookup. */}
      <section>
        <h2>History and notes</h2>
        <ol className="history">
          {[...flag.history.map((h) => ({ ...h, kind: 'history' as const })), ...flag.notes.map((n) => ({ ...n, kind: 'note' as const }))]
            .sort((a, b) => a.at.localeCompare(b.at))
            .map((e) => (
              <li key={`${e.kind}-${e.at}-${e.by}-${e.kind === 'note' ? e.text : e.action}`}>
                <time dateTime={e.at}>{formatDateTime(e.at)}</time> {e.by}:{' '}
                {e.kind === 'note' ? (
                  <q>{e.text}</q>
                ) : (
                  <span>
                    {e.action}
                    {e.note ? ` — ${e.note}` : ''}
                  </span>
                )}
              </li>
            ))}
        </ol>
      </section>
      {flag.status === 'open' ? (
        <>
          <ClaimControl id={flag.id} claim={flag.claim} onChange={refresh} />
          <Decision flag={flag} onDecided={refresh} />
        </>
      ) : (
        <p>This flag was {flag.status}; it needs no decision.</p>
      )}
    </article>
  );
}

function ClaimControl(props: { id: string; claim?: Claim; onChange: () => void }) {
  const { principal, role } = useSession();
  const path = `/v1/flags/${encodeURIComponent(props.id)}/claim`;
  const m = useMutation({
    mutationFn: (method: 'POST' | 'DELETE') => api(path, { method }),
    onSuccess: props.onChange,
  });
  const claim = props.claim;
  return (
    <section aria-labelledby="claim-heading" className="claim">
      <h2 id="claim-heading">Assignment</h2>
      {claim ? (
        <p>
          {claim.by === principal ? 'Assigned to you' : `Assigned to ${claim.by}`}{' '}
          {(claim.by === principal || role === 'admin') && (
            <button type="button" disabled={m.isPending} onClick={() => m.mutate('DELETE')}>
              Release
            </button>
          )}
        </p>
      ) : (
        <button type="button" disabled={m.isPending} onClick={() => m.mutate('POST')}>
          Assign to me
        </button>
      )}
      {m.error && <p role="alert">{errorText(m.error)}</p>}
    </section>
  );
}
