import type { EvidenceSeries, Flag, RankedValue } from '../../functions/core/fraud/types.js';

/** How many buckets of each series the text view shows: the flagged ones and this many either side. */
const CONTEXT_BUCKETS = 6;

/**
 * A flag as an analyst reads it in a terminal: what, when and how sure; the summary and the rule's
 * numbers; keys, prefixes and countries (new ones marked `*`); the other rules or meters folded in; each
 * evidence series around its flagged buckets (observed against expected and band, flagged marked `<`);
 * then notes and history. `meter flags show --json` prints the flag as the API returns it.
 *
 * @example console.log(formatFlag(flag))
 */
export function formatFlag(f: Flag): string {
  const out: string[] = [];
  out.push(`${f.id}  ${f.status.toUpperCase()}  ${f.severity} (score ${f.score.toFixed(2)})`);
  out.push(`${f.rule} on ${f.meter} for ${f.customerId}, ${f.window.from} .. ${f.window.to}`);
  out.push('', f.evidence.summary);
  if (f.evidence.variant) out.push(`variant: ${f.evidence.variant}`);
  out.push(`observed ${num(f.evidence.observed)} against ${num(f.evidence.expected)} expected`);
  const signals = Object.entries(f.evidence.signals);
  if (signals.length > 0) out.push(`signals: ${signals.map(([k, v]) => `${k}=${num(v)}`).join(', ')}`);
  if (f.evidence.apiKeyIds?.length) out.push(`API keys: ${f.evidence.apiKeyIds.join(', ')}`);
  if (f.evidence.topIpPrefixes?.length) out.push(`IP prefixes: ${ranked(f.evidence.topIpPrefixes)}`);
  if (f.evidence.topCountries?.length) out.push(`countries: ${ranked(f.evidence.topCountries)}`);
  for (const m of f.evidence.alsoMatched ?? [])
    out.push(`also matched: ${m.rule}${m.meter ? ` on ${m.meter}` : ''} (score ${m.score.toFixed(2)})${m.summary ? `: ${m.summary}` : ''}`);
  for (const s of f.evidence.series) out.push('', ...series(s));
  if (f.notes.length > 0) out.push('', 'notes:', ...f.notes.map((n) => `  ${n.at} ${n.by}: ${n.text}`));
  out.push(
    '',
    'history:',
    ...f.history.map(
      (h) =>
        `  ${h.at} ${h.by} ${h.action}${h.severity ? ` ${h.severity}` : ''}${h.window ? ` ${h.window.from} .. ${h.window.to}` : ''}${h.note ? `: ${h.note}` : ''}`,
    ),
  );
  return out.join('\n');
}

function series(s: EvidenceSeries): string[] {
  const flagged = s.points.flatMap((p, i) => (p.flagged ? [i] : []));
  const from = flagged.length ? Math.max(0, flagged[0]! - CONTEXT_BUCKETS) : Math.max(0, s.points.length - 2 * CONTEXT_BUCKETS);
  const to = flagged.length ? Math.min(s.points.length, flagged.at(-1)! + CONTEXT_BUCKETS + 1) : s.points.length;
  const shown = s.points.slice(from, to);
  const rows = shown.map((p) => [
    p.t.replace(':00:00.000Z', 'Z').replace('T00Z', ''),
    num(p.observed),
    num(p.expected),
    `${num(p.lo)}-${num(p.hi)}`,
    p.flagged ? '<' : '',
  ]);
  const head = ['bucket', 'observed', 'expected', 'band', ''];
  const width = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => `  ${r.map((v, c) => (c === 0 ? v.padEnd(width[c]!) : v.padStart(width[c]!))).join('  ')}`.trimEnd();
  const skipped = s.points.length - shown.length;
  return [
    `${s.name} (${s.granularity}${skipped > 0 ? `; ${shown.length} of ${s.points.length} buckets shown` : ''}):`,
    line(head),
    ...rows.map(line),
  ];
}

function ranked(values: readonly RankedValue[]): string {
  return values.map((v) => `${v.value}${v.new ? '*' : ''} ${num(v.calls)}`).join(', ');
}

function num(x: number): string {
  return Number.isInteger(x) ? String(x) : Math.abs(x) >= 100 ? String(Math.round(x)) : x.toFixed(2);
}
