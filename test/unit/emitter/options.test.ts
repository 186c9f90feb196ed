import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../contract/errors.js';
import { createUsageEmitter, DEFAULTS, INGEST_REQUEST_LIMITS, type UsageEmitterOptions } from '../../../emitter/index.js';
import { INGEST_LIMITS } from '../../../functions/http/routes/events.js';
import { FakeIngest } from '../../fakes/fake-ingest.js';

describe('options', () => {
  it('reports every problem at once, typos included, and names no secret', () => {
    // Prepare
    const bad = {
      source: 'api gw',
      endpoint: 'ftp://x',
      apiKey: '',
      queueUrl: 'https://sqs/q',
      maxBatchEvents: 5000,
      flushIntervallMs: 100,
      retry: { maxAttempts: 0, jitter: true },
    } as unknown as UsageEmitterOptions;
    // Act
    const act = () => createUsageEmitter(bad);
    // Assess
    expect(act).toThrow(ConfigError);
    const fields = (() => {
      try {
        act();
      } catch (e) {
        return ((e as ConfigError).context.errors as { field: string }[]).map((x) => x.field);
      }
    })();
    expect(fields).toEqual(
      expect.arrayContaining(['', 'flushIntervallMs', 'source', 'retry.jitter', 'retry.maxAttempts', 'maxBatchEvents']),
    );
  });

  it('refuses a userIdKey that is not a string of at least 32 characters, naming the option and never the value', () => {
    // Prepare
    const base = { source: 'api-gw', transport: new FakeIngest() };
    const short = 's3cr3t-'.padEnd(31, 'x');
    // Act
    const refusals = [short, '', 42, Buffer.alloc(32)].map((userIdKey) => {
      try {
        createUsageEmitter({ ...base, userIdKey } as unknown as UsageEmitterOptions);
        return undefined;
      } catch (e) {
        return e as ConfigError;
      }
    });
    // Assess
    for (const e of refusals) {
      expect(e).toBeInstanceOf(ConfigError);
      expect(e!.message).toBe('invalid usage emitter options: userIdKey must be a secret string of at least 32 characters');
      expect(e!.context.errors).toEqual([{ field: 'userIdKey', message: 'must be a secret string of at least 32 characters' }]);
    }
    expect(JSON.stringify(refusals[0]!.context)).not.toContain('s3cr3t');
    expect(() => createUsageEmitter({ ...base, userIdKey: short.padEnd(32, 'x') }).shutdown()).not.toThrow();
  });

  it('defaults to the ingest request limit, and keeps the mirrored limits equal', () => {
    // Prepare / Act / Assess
    expect(INGEST_REQUEST_LIMITS).toEqual(INGEST_LIMITS);
    expect(DEFAULTS.maxBatchEvents).toBe(INGEST_LIMITS.maxEvents);
    expect(() =>
      createUsageEmitter({ source: 'api-gw', transport: new FakeIngest(), maxBatchEvents: INGEST_LIMITS.maxEvents + 1 }),
    ).toThrow(/maxBatchEvents/);
  });

  it('never keeps the process alive: a script that forgets shutdown() exits while a retry waits', () => {
    // Prepare: the interval starts a background round against a dead receiver, whose backoff is a minute
    const script = `
      import { createUsageEmitter } from ${JSON.stringify(fileURLToPath(new URL('../../../emitter/index.ts', import.meta.url)))};
      let sends = 0;
      const transport = { send: async () => { sends++; throw new Error('ECONNREFUSED'); } };
      const emitter = createUsageEmitter({ source: 'api-gw', flushIntervalMs: 10, retry: { baseDelayMs: 60000, maxDelayMs: 60000 }, transport });
      emitter.fileProtected('cus_1', 'file-1');
      setTimeout(() => console.log('sends', sends, 'pending', emitter.stats().pending), 200);
    `;
    // Act
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      timeout: 30_000,
      encoding: 'utf8',
    });
    // Assess
    expect(run.error).toBeUndefined();
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^sends [1-9]\d* pending 1$/m);
  });
});
