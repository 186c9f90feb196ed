// What the queue last showed, kept for the tab, so a flag page can move on to "the next flag of the queue" in the
// order the analyst saw, and a status message can survive the navigation back to the queue.

export interface QueueView {
  /** The filters as a query string, e.g. `status=open&rule=leaked_key`. */
  filters: string;
  /** The cursor the shown page was read with (undefined for the first page). */
  cursor?: string;
  ids: string[];
}

const KEY = 'meter.queueView';
let flash: { message: string; at: number } | undefined;

export function rememberQueue(view: QueueView): void {
  sessionStorage.setItem(KEY, JSON.stringify(view));
}

export function lastQueue(): QueueView | undefined {
  try {
    return (JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as QueueView | null) ?? undefined;
  } catch {
    return undefined;
  }
}

export function setFlash(message: string): void {
  flash = { message, at: Date.now() };
}

/**
 * The message for the page just navigated to. It is not consumed on read (a development double render reads it
 * twice) but goes stale in a few seconds, so a later visit does not repeat it; it lives in memory, so a reload drops it.
 */
export function takeFlash(): string | undefined {
  return flash && Date.now() - flash.at < 3000 ? flash.message : undefined;
}

/** Filters from a query string to the API's query, with the console's default of open flags. */
export function filtersOf(query: URLSearchParams): Record<string, string | undefined> {
  const status = query.has('status') ? query.get('status') || undefined : 'open';
  return {
    status,
    severity: query.get('severity') || undefined,
    rule: query.get('rule') || undefined,
    customer: query.get('customer') || undefined,
    meter: query.get('meter') || undefined,
  };
}
