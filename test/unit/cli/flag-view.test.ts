import { describe, expect, it } from 'vitest';
import { formatFlag } from '../../../cli/render/flag-view.js';
import { openFlag } from '../../../functions/core/fraud/merge-flags.js';
import { reviewFlag } from '../../../functions/core/fraud/review-flag.js';
import { addCalls, addPlaces, cleanDays, copyDays, inputOf, runRule, utcHourOf } from '../../fakes/fraud-fixtures.js';

describe('meter flags show (text view)', () => {
  it('shows what, when, how sure, where from (new places starred), the series around the flagged hour, and the review', () => {
    // Prepare: a 5x hour on a Wednesday with two new /24s in RU, opened as a flag and dismissed.
    const wednesday = 37;
    const h = utcHourOf(13);
    const days = copyDays(cleanDays(wednesday + 1));
    addCalls(days[wednesday]!, h, days[wednesday]!.apiCalls[h]! * 4);
    addPlaces(
      days[wednesday]!.keys[0]!,
      [
        { prefix: '198.51.100.0/24', country: 'RU' },
        { prefix: '198.51.101.0/24', country: 'RU' },
      ],
      900,
      [h],
    );
    const [detection] = runRule('volume_spike', inputOf(days));
    const flag = reviewFlag(openFlag(detection!, '2026-02-12T00:30:00.000Z'), {
      decision: 'dismiss',
      note: 'customer backfill, confirmed by email',
      reviewer: 'ana',
      at: '2026-02-12T09:00:00.000Z',
    });

    // Act
    const text = formatFlag(flag);
    const lines = text.split('\n');

    // Assess
    expect(lines[0]).toBe(`${flag.id}  DISMISSED  ${flag.severity} (score ${flag.score.toFixed(2)})`);
    expect(lines[1]).toBe(`volume_spike on api_calls for ${flag.customerId}, ${flag.window.from} .. ${flag.window.to}`);
    expect(text).toContain(flag.evidence.summary);
    expect(text).toMatch(/IP prefixes: .*198\.51\.100\.0\/24\* 900/);
    expect(text).toMatch(/countries: .*RU\* 1800/);
    const hourly = lines.indexOf(lines.find((l) => l.startsWith('api_calls per hour'))!);
    expect(lines[hourly]).toMatch(/^api_calls per hour \(hour; 13 of \d+ buckets shown\):$/);
    const flaggedRows = lines.slice(hourly + 2, hourly + 15).filter((l) => l.endsWith('<'));
    expect(flaggedRows).toHaveLength(1);
    expect(flaggedRows[0]).toContain(String(days[wednesday]!.apiCalls[h]));
    expect(text).toContain('2026-02-12T09:00:00.000Z ana dismissed: customer backfill, confirmed by email');
  });
});
