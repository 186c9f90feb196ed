import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../../contract/clock.js';
import { createUsageEmitter, type EmitterError } from '../../../emitter/index.js';
import { FAST_RETRY, FakeIngest } from '../../fakes/fake-ingest.js';

const setup = (extra: { shutdownTimeoutMs?: number; maxBatchEvents?: number } = {}) => {
  const clock = fixedClock('2026-03-10T12:00:05.000Z');
  const ingest = new FakeIngest();
  const errors: EmitterError[] = [];
  const emitter = createUsageEmitter({
    source: 'api-gw',
    transport: ingest,
    clock,
    retry: FAST_RETRY,
    onError: (e) => errors.push(e),
    ...extra,
  });
  return { clock, ingest, errors, emitter };
};

describe('delivery', () => {
  it('delivers everything pending on shutdown, then drops (and counts) later calls', async () => {
    // Prepare
    const { ingest, emitter } = setup();
    for (let i = 0; i < 7; i++) emitter.apiCall('cus_1', { operation: 'a' });
    emitter.userActive('cus_1', 'user_1');
    emitter.fileProtected('cus_1', 'file_1');
    emitter.fileUnprotected('cus_1', 'file_2');
    // Act
    await emitter.shutdown();
    emitter.apiCall('cus_1');
    // Assess
    expect(ingest.apiCalls('cus_1')).toBe(7);
    expect(ingest.received.map((e) => e.type).sort()).toEqual([
      'com.serenity.api.call',
      'com.serenity.file.protected',
      'com.serenity.file.unprotected',
      'com.serenity.user.active',
    ]);
    expect(emitter.stats()).toMatchObject({
      recorded: 11,
      accepted: 4,
      pending: 0,
      dropped: { total: 1, byReason: { after_shutdown: 1 } },
    });
  });

  it('re-sends the same ids after failed sends, so the deduping receiver counts every call exactly once', async () => {
    // Prepare: the first send never arrives; the second and third arrive but their answers are lost
    const { clock, ingest, emitter } = setup();
    ingest.script = ['fail', 'lose-response', 'lose-response'];
    for (let i = 0; i < 40; i++) emitter.apiCall(`cus_${i % 4}`, { operation: 'files.encrypt' });
    clock.advance(60_000);
    for (let i = 0; i < 10; i++) emitter.apiCall('cus_0', { operation: 'files.encrypt' });
    // Act
    await emitter.flush();
    // Assess
    const sent = ingest.batches.map((b) => b.map((e) => e.id).sort());
    expect(sent).toHaveLength(4);
    expect(new Set(sent.map((ids) => ids.join()))).toHaveLength(1); // four sends, one set of ids
    expect(ingest.apiCalls()).toBe(50);
    expect(ingest.apiCalls('cus_0')).toBe(20);
    expect(emitter.stats()).toMatchObject({ sent: 20, accepted: 5, retries: 15, pending: 0 });
    await emitter.shutdown();
  });

  it('retries an event the receiver rejected as retryable, with the same id', async () => {
    // Prepare: cus_2's event cannot be enqueued on its first two sends
    const { ingest, errors, emitter } = setup();
    ingest.verdict = (e, attempt) => (e.subject === 'cus_2' && attempt <= 2 ? { retryable: true, reason: 'not_enqueued' } : undefined);
    emitter.apiCall('cus_1');
    emitter.apiCall('cus_2', { quantity: 3 });
    // Act
    await emitter.flush();
    // Assess
    const cus2Sends = ingest.received.filter((e) => e.subject === 'cus_2');
    expect(cus2Sends).toHaveLength(3);
    expect(new Set(cus2Sends.map((e) => e.id)).size).toBe(1);
    expect(ingest.received.filter((e) => e.subject === 'cus_1')).toHaveLength(1);
    expect(ingest.apiCalls('cus_2')).toBe(3);
    expect(emitter.stats()).toMatchObject({ accepted: 2, retries: 2, rejected: { total: 0 }, pending: 0 });
    expect(errors).toEqual([]);
    await emitter.shutdown();
  });

  it('counts and reports a non-retryable rejection without sending it again', async () => {
    // Prepare
    const { ingest, errors, emitter } = setup();
    ingest.verdict = (e) => (e.subject === 'cus_bad' ? { retryable: false, reason: 'invalid:subject' } : undefined);
    emitter.apiCall('cus_bad');
    emitter.apiCall('cus_ok');
    // Act
    await emitter.flush();
    await emitter.flush();
    // Assess
    expect(ingest.received.filter((e) => e.subject === 'cus_bad')).toHaveLength(1);
    expect(emitter.stats()).toMatchObject({
      accepted: 1,
      retries: 0,
      rejected: { total: 1, byReason: { 'invalid:subject': 1 } },
      pending: 0,
    });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ reason: 'rejected', retryable: false, context: { detail: 'invalid:subject' } });
    expect(errors[0]!.context.events?.map((e) => e.subject)).toEqual(['cus_bad']);
  });

  it('settles a batch refused as a whole (e.g. 401) as rejected, reported once', async () => {
    // Prepare
    const { ingest, errors, emitter } = setup();
    ingest.script = ['refuse'];
    emitter.apiCall('cus_1');
    emitter.userActive('cus_1', 'user_1');
    // Act
    await emitter.flush();
    // Assess
    expect(ingest.batches).toHaveLength(1);
    expect(emitter.stats()).toMatchObject({ rejected: { total: 2, byReason: { http_401: 2 } }, pending: 0 });
    expect(errors.map((e) => [e.reason, e.context.detail, e.context.events?.length])).toEqual([['rejected', 'http_401', 2]]);
  });

  it('keeps failed events pending after maxAttempts and delivers them on a later flush', async () => {
    // Prepare: five failures use up the first round's attempts
    const { ingest, errors, emitter } = setup();
    ingest.script = ['fail', 'fail', 'fail', 'fail', 'fail'];
    emitter.apiCall('cus_1', { quantity: 2 });
    // Act
    await emitter.flush();
    const afterFirst = emitter.stats();
    await emitter.flush();
    // Assess
    expect(afterFirst).toMatchObject({ sent: 5, accepted: 0, pending: 1 });
    expect(errors.filter((e) => e.reason === 'send_failed' && e.retryable)).toHaveLength(5);
    expect(emitter.stats()).toMatchObject({ sent: 6, accepted: 1, retries: 5, pending: 0 });
    expect(ingest.apiCalls('cus_1')).toBe(2);
  });

  it('gives up at the shutdown deadline, counting and reporting what was left undelivered', async () => {
    // Prepare: a receiver that never answers
    const clock = fixedClock('2026-03-10T12:00:05.000Z');
    const errors: EmitterError[] = [];
    const hanging = { send: () => new Promise<never>(() => {}) };
    const emitter = createUsageEmitter({
      source: 'api-gw',
      transport: hanging,
      clock,
      shutdownTimeoutMs: 50,
      onError: (e) => errors.push(e),
    });
    emitter.apiCall('cus_1');
    emitter.fileProtected('cus_1', 'file_1');
    // Act
    await emitter.shutdown(); // a receiver that never answers cannot hold shutdown past its deadline
    // Assess
    expect(emitter.stats()).toMatchObject({ pending: 0, dropped: { total: 2, byReason: { shutdown_timeout: 2 } } });
    expect(errors.map((e) => [e.reason, e.context.events?.length])).toEqual([['shutdown_timeout', 2]]);
  });
});

describe('delivery during an outage', () => {
  it('paces rounds by the flush interval while events wait to be retried, instead of starting one per full batch', async () => {
    // Prepare: every send fails; batches of 10; a 60 s flush interval; a file event every 20 ms for 1.2 s
    const ingest = new FakeIngest();
    ingest.script = new Array(10_000).fill('fail');
    const emitter = createUsageEmitter({
      source: 'api-gw',
      transport: ingest,
      clock: fixedClock('2026-03-10T12:00:05.000Z'),
      retry: FAST_RETRY,
      maxBatchEvents: 10,
      flushIntervalMs: 60_000,
      onError: () => {},
    });

    // Act
    for (let i = 0; i < 60; i++) {
      emitter.fileProtected('cus_1', `file_${i}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const sends = ingest.batches.length;
    await emitter.shutdown();

    // Assess: the first full batch is tried (maxAttempts times); after it failed, new events wait for the interval
    expect(sends).toBe(FAST_RETRY.maxAttempts);
  });
});
