import { describe, expect, it } from 'vitest';
import { AuthError } from '../../../../contract/errors.js';
import { bulkDismiss } from '../../../../functions/core/fraud/bulk-review.js';
import { changeClaim, FlagClaimedError } from '../../../../functions/core/fraud/flag-claims.js';
import { flagRevision, openFlag } from '../../../../functions/core/fraud/merge-flags.js';
import { reviewFlag } from '../../../../functions/core/fraud/review-flag.js';
import type { AuditEntry, Customer } from '../../../../functions/core/shared/ports.js';
import { MemoryFlagStore, MemoryRollupStore } from '../../../fakes/memory-ports.js';

const NOW = Date.parse('2026-03-10T09:00:00.000Z');

function setup() {
  const flags = new MemoryFlagStore();
  const entries: AuditEntry[] = [];
  const deps = {
    flags,
    rollups: new MemoryRollupStore(),
    registry: { customers: async () => new Map<string, Customer>(), putCustomer: async () => undefined },
    audit: { record: async (e: AuditEntry) => void entries.push(e), list: async () => entries },
    clock: { now: () => NOW },
  };
  const f = openFlag(
    {
      customerId: 'acme',
      rule: 'leaked_key',
      meter: 'api_calls',
      window: { from: '2026-03-08T00:00:00.000Z', to: '2026-03-09T00:00:00.000Z' },
      score: 0.9,
      severity: 'high',
      evidence: { summary: 's', observed: 1, expected: 0, signals: {}, series: [] },
    },
    '2026-03-09T00:30:00.000Z',
  );
  flags.flags.set(f.id, f);
  return { flags, entries, deps, id: f.id };
}

describe('claims', () => {
  it('assigns a flag, moves its revision, refuses another analyst naming the holder, and audits once', async () => {
    const { flags, entries, deps, id } = setup();
    const before = flagRevision((await flags.get(id))!);
    const claimed = await changeClaim(id, 'claim', { principal: 'ana', isAdmin: false }, deps as never);
    expect(claimed.claim).toEqual({ by: 'ana', at: new Date(NOW).toISOString() });
    expect(flagRevision((await flags.get(id))!)).toBe(before + 1);
    // Her own claim again: nothing changes, nothing more is audited.
    await changeClaim(id, 'claim', { principal: 'ana', isAdmin: false }, deps as never);
    const other = changeClaim(id, 'claim', { principal: 'bo', isAdmin: false }, deps as never);
    await expect(other).rejects.toBeInstanceOf(FlagClaimedError);
    await expect(other).rejects.toThrow(/assigned to ana/);
    expect(entries.map((e) => [e.action, e.actor])).toEqual([['flag.claim', 'ana']]);
  });

  it('lets only the holder or an admin release, and a review clears the claim', async () => {
    const { flags, entries, deps, id } = setup();
    await changeClaim(id, 'claim', { principal: 'ana', isAdmin: false }, deps as never);
    await expect(changeClaim(id, 'release', { principal: 'bo', isAdmin: false }, deps as never)).rejects.toBeInstanceOf(AuthError);
    await changeClaim(id, 'release', { principal: 'root', isAdmin: true }, deps as never);
    expect((await flags.get(id))!.claim).toBeUndefined();
    expect(entries.at(-1)).toMatchObject({ action: 'flag.unclaim', actor: 'root', details: { flagId: id, claimedBy: 'ana' } });
    await changeClaim(id, 'claim', { principal: 'bo', isAdmin: false }, deps as never);
    const reviewed = reviewFlag((await flags.get(id))!, {
      decision: 'dismiss',
      note: 'ok',
      reviewer: 'bo',
      at: new Date(NOW).toISOString(),
    });
    expect(reviewed.claim).toBeUndefined();
  });

  it('refuses a claim on a flag that a close changed in between only as a conflict it redoes', async () => {
    const { flags, deps, id } = setup();
    let first = true;
    const racing = {
      ...deps,
      flags: {
        get: async (x: string) => {
          const read = await flags.get(x);
          // A close extends the flag right after the claim read it.
          if (first && read) {
            first = false;
            flags.flags.set(x, { ...read, history: [...read.history, { at: 'x', by: 'system', action: 'extended' }] });
          }
          return read;
        },
        save: flags.save.bind(flags),
      },
    };
    const claimed = await changeClaim(id, 'claim', { principal: 'ana', isAdmin: false }, racing as never);
    expect(claimed.history.map((h) => h.action)).toEqual(['opened', 'extended', 'claimed']);
  });
});

describe('bulk dismiss', () => {
  it('dismisses each flag on its own and says which could not be', async () => {
    const { flags, entries, deps, id } = setup();
    const results = await bulkDismiss(
      [id, 'nope'],
      { note: 'test traffic', reviewer: 'ana', at: new Date(NOW).toISOString() },
      deps as never,
    );
    expect(results).toEqual([
      { id, ok: true, status: 'dismissed' },
      { id: 'nope', ok: false, error: 'no flag nope' },
    ]);
    expect((await flags.get(id))!.status).toBe('dismissed');
    expect(entries.filter((e) => e.action === 'flag.review')).toHaveLength(1);
    const again = await bulkDismiss([id], { note: 'other note', reviewer: 'bo', at: new Date(NOW).toISOString() }, deps as never);
    expect(again[0]).toMatchObject({ id, ok: false, status: 'dismissed' });
  });
});
