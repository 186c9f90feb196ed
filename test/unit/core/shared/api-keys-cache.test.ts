import { describe, expect, it } from 'vitest';
import { cachedLookup } from '../../../../functions/core/shared/api-keys.js';
import type { ApiKey } from '../../../../functions/core/shared/ports.js';

describe('cachedLookup', () => {
  it('keeps at most maxEntries lookups, dropping the oldest, so random keys cannot grow it without end', async () => {
    // Prepare: a store that knows one key and counts its reads
    let reads = 0;
    const known = { hash: 'h-known', role: 'ingest', principal: 'gw' } as unknown as ApiKey;
    const lookup = cachedLookup(
      async (h) => {
        reads++;
        return h === 'h-known' ? known : undefined;
      },
      () => 0,
      60_000,
      3,
    );

    // Act: the known key, then four random ones, then the known key again
    await lookup('h-known');
    for (const h of ['r1', 'r2', 'r3', 'r4']) await lookup(h);
    const readsBefore = reads;
    const again = await lookup('h-known');
    const r4 = await lookup('r4');

    // Assess: the known key was pushed out (read again); the newest random one is still cached
    expect(again).toBe(known);
    expect(reads).toBe(readsBefore + 1);
    expect(r4).toBeUndefined();
    expect(reads).toBe(readsBefore + 1);
  });
});
