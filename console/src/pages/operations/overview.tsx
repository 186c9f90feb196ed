import { useQuery } from '@tanstack/react-query';
import { api } from '../../api';
import { Link } from '../../router';
import { ErrorAlert, num, utc } from '../finance/common';
import type { CloseRun, Health } from './types';

/** The health figures, shared with the DLQ page (one query key, so a redrive refreshes both). */
export function useHealth() {
  // The api() call carries the admin's credential, so the route answers with the depths, not just liveness.
  return useQuery({ queryKey: ['health'], queryFn: () => api<Health>('/v1/health'), refetchInterval: 30_000 });
}

/** Links to the Operations sub pages (on the overview only, so a sub page's own heading is its only such name). */
export function OperationsNav() {
  return (
    <nav aria-label="Operations pages" className="subnav">
      <ul>
        <li>
          <Link to="/operations/quarantine">Quarantined events</Link>
        </li>
        <li>
          <Link to="/operations/dlq">Dead-letter queue</Link>
        </li>
        <li>
          <Link to="/operations/audit">Audit trail</Link>
        </li>
        <li>
          <Link to="/operations/keys">API keys</Link>
        </li>
      </ul>
    </nav>
  );
}

/** `/operations`: queue, in-flight, DLQ and quarantine depths, and the recent nightly close runs. */
export function OperationsPage() {
  const health = useHealth();
  const runs = useQuery({
    queryKey: ['close-runs'],
    queryFn: () => api<{ runs: CloseRun[] }>('/v1/close-runs', { query: { limit: 14 } }),
  });
  const h = health.data;
  return (
    <section>
      <h1 id="operations-heading">Operations</h1>
      <OperationsNav />
      <ErrorAlert error={health.error} />
      {h && (
        <section>
          <h2 id="health-heading">Health: {h.status === 'ok' ? 'ok' : <strong className="difference">needs attention</strong>}</h2>
          <dl className="figures">
            <Figure label="Queue" value={h.queue} />
            <Figure label="In flight" value={h.inFlight} />
            <Figure label="DLQ" value={h.dlq} attention={h.dlq > 0} to="/operations/dlq" />
            <Figure label="Quarantine" value={h.quarantine} attention={h.quarantine > 0} to="/operations/quarantine" />
          </dl>
        </section>
      )}
      <section>
        <h2 id="close-runs-heading">Close runs</h2>
        <ErrorAlert error={runs.error} />
        {runs.data && runs.data.runs.length === 0 && <p>No close run recorded yet.</p>}
        {runs.data && runs.data.runs.length > 0 && <RunsTable runs={runs.data.runs} />}
      </section>
    </section>
  );
}

function Figure(props: { label: string; value: number; attention?: boolean; to?: string }) {
  return (
    <div className={props.attention ? 'figure attention' : 'figure'}>
      <dt>{props.label}</dt>
      <dd>
        {num(props.value)}
        {props.attention && props.to && (
          <>
            {' '}
            <Link to={props.to}>look</Link>
          </>
        )}
      </dd>
    </div>
  );
}

function RunsTable(props: { runs: CloseRun[] }) {
  return (
    <table>
      <caption className="visually-hidden">Nightly close runs, newest first</caption>
      <thead>
        <tr>
          <th scope="col">Day</th>
          <th scope="col">Started</th>
          <th scope="col">Progress</th>
          <th scope="col">Customers</th>
          <th scope="col">Counts</th>
          <th scope="col">Failures</th>
          <th scope="col">Missed days</th>
          <th scope="col">Run</th>
        </tr>
      </thead>
      <tbody>
        {props.runs.map((r) => (
          <tr key={r.runId} className={r.failures || r.missedBeyondWindow ? 'has-difference' : undefined}>
            <th scope="row">{r.day}</th>
            <td>{utc(r.startedAt)}</td>
            <td>
              <progress max={r.chunks || 1} value={r.chunksDone} aria-label={`Chunks of the run of ${r.day}`} /> {r.chunksDone} of{' '}
              {r.chunks} chunks{r.complete ? ', complete' : ', running or stalled'}
            </td>
            <td className="num">{num(r.customers)}</td>
            <td>{countsText(r.counts)}</td>
            <td>{r.failures ? <strong className="difference">{num(r.failures)} failed</strong> : 'none'}</td>
            <td>
              {r.missedDays?.length ? `caught up ${r.missedDays.join(', ')}` : '—'}
              {r.missedBeyondWindow?.length ? (
                <strong className="difference"> beyond Stripe's window: {r.missedBeyondWindow.join(', ')}</strong>
              ) : null}
            </td>
            <td>
              <code>{r.runId}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Counts as `name 12, other 3`: a run's counts are a small open set, shown as they come. */
export function countsText(counts: Record<string, number> | undefined): string {
  const entries = Object.entries(counts ?? {});
  return entries.length === 0 ? '—' : entries.map(([k, v]) => `${k} ${num(v)}`).join(', ');
}
