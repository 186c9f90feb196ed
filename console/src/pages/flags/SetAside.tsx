// What one expectation set aside: the close writes a `flag.expected` audit entry per chunk naming each detection and
// the expectation that covered it. The audit is searched a day at a time, so the window's days are read (at most 31).
import { useQuery } from '@tanstack/react-query';
import { api, errorText } from '../../api';
import { formatWindow } from '../../format';
import { type ExpectedActivity, ruleLabel } from './types';

interface SetAsideItem {
  customerId: string;
  expectedActivityId: string;
  rule: string;
  meter: string;
  window: { from: string; to: string };
}

const DAY_MS = 86_400_000;

function daysOf(e: ExpectedActivity, now = Date.now()): string[] {
  const days: string[] = [];
  // The close records a day's findings when it closes that day, so the entries fall on the days after the usage too.
  const end = Math.min(Date.parse(e.to) + 2 * DAY_MS, now + DAY_MS);
  for (let t = Date.parse(e.from.slice(0, 10)); t < end && days.length < 33; t += DAY_MS) days.push(new Date(t).toISOString().slice(0, 10));
  return days;
}

export function SetAside(props: { expectation: ExpectedActivity }) {
  const e = props.expectation;
  const q = useQuery({
    queryKey: ['set-aside', e.id],
    queryFn: async () => {
      const pages = await Promise.all(
        daysOf(e).map((day) =>
          api<{ entries: { details?: { expected?: SetAsideItem[] } }[] }>('/v1/audit', {
            query: { day, action: 'flag.expected', limit: 200 },
          }),
        ),
      );
      const found = pages.flatMap((p) => p.entries.flatMap((x) => x.details?.expected ?? [])).filter((x) => x.expectedActivityId === e.id);
      // A day closed again (late events) records the same finding again: show each once.
      return [...new Map(found.map((x) => [`${x.rule}|${x.meter}|${x.window.from}|${x.window.to}`, x])).values()];
    },
  });
  return (
    <section aria-labelledby="set-aside-heading">
      <h2 id="set-aside-heading">What it set aside</h2>
      {q.error && <p role="alert">{errorText(q.error)}</p>}
      {q.isPending && <p role="status">Reading the audit trail…</p>}
      {q.data && q.data.length === 0 && <p>Nothing set aside so far.</p>}
      {q.data && q.data.length > 0 && (
        <ul>
          {q.data.map((x) => (
            <li key={`${x.rule}-${x.meter}-${x.window.from}`}>
              {ruleLabel(x.rule)} on {x.meter}, {formatWindow(x.window)}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
