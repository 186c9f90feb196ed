// After a decision, the next flag "of the queue": the one after the decided flag in the order the analyst last saw,
// read again so that flags decided meanwhile (by anyone) are skipped.
import { api } from '../../api';
import { navigate } from '../../router';
import { lastQueue, setFlash } from './queue-memory';
import type { FlagPage } from './types';

export async function nextFlagAfter(currentId: string): Promise<string | undefined> {
  const view = lastQueue();
  const filters = Object.fromEntries(new URLSearchParams(view?.filters ?? 'status=open'));
  // Only open flags are waiting for a decision, whatever the queue was filtered to.
  filters.status = 'open';
  const seen = view?.ids ?? [];
  const at = seen.indexOf(currentId);
  const page = await api<FlagPage>('/v1/flags', { query: { ...filters, cursor: view?.cursor, limit: 50 } });
  const later = page.flags.find((f) => f.id !== currentId && (at < 0 || seen.indexOf(f.id) > at || !seen.includes(f.id)));
  if (later) return later.id;
  if (!page.cursor) return undefined;
  const more = await api<FlagPage>('/v1/flags', { query: { ...filters, cursor: page.cursor, limit: 50 } });
  return more.flags.find((f) => f.id !== currentId)?.id;
}

/** Where to go once decided: the next flag of the queue, or the queue, with what happened. */
export function afterDecision(next: string | undefined, message: string): void {
  setFlash(message);
  navigate(next ? `/flags/${encodeURIComponent(next)}` : '/flags');
}
