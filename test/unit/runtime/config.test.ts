import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../contract/errors.js';
import { EVENT_QUEUE, TABLES } from '../../../functions/resources.js';
import { loadConfig } from '../../../functions/runtime/config.js';

const BASE = {
  ...Object.fromEntries(Object.values(TABLES).map((t) => [t.env, `serenity-${t.env.toLowerCase()}`])),
  [EVENT_QUEUE.env]: 'https://sqs.eu-west-1.amazonaws.com/1/events',
  [EVENT_QUEUE.dlqEnv]: 'https://sqs.eu-west-1.amazonaws.com/1/events-dlq',
  AWS_REGION: 'eu-west-1',
};

describe('loadConfig: billing policy settings', () => {
  it('takes an empty hold policy or invoice grace as unset (high; 1 hour), never as "hold nothing" or "no grace"', () => {
    // Act
    const unset = loadConfig(BASE);
    const empty = loadConfig({ ...BASE, HOLD_SEVERITIES: '', STRIPE_INVOICE_GRACE_HOURS: '' });
    const set = loadConfig({ ...BASE, HOLD_SEVERITIES: 'medium,high', STRIPE_INVOICE_GRACE_HOURS: '72' });

    // Assess
    expect([unset.holdSeverities, unset.invoiceGraceHours]).toEqual([['high'], 1]);
    expect([empty.holdSeverities, empty.invoiceGraceHours]).toEqual([['high'], 1]);
    expect([set.holdSeverities, set.invoiceGraceHours]).toEqual([['medium', 'high'], 72]);
  });

  it('refuses a grace Stripe does not allow, naming the variable', () => {
    // Act / Assess
    expect(() => loadConfig({ ...BASE, STRIPE_INVOICE_GRACE_HOURS: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...BASE, STRIPE_INVOICE_GRACE_HOURS: '96' })).toThrow(/STRIPE_INVOICE_GRACE_HOURS must be 1-72/);
  });
});

describe('loadConfig: retention settings', () => {
  it('defaults each retention as docs/retention.md gives it, and takes an empty setting as unset', () => {
    // Act
    const unset = loadConfig(BASE);
    const empty = loadConfig({ ...BASE, FRAGMENT_RETENTION_DAYS: '', QUARANTINE_RETENTION_DAYS: '' });
    const set = loadConfig({
      ...BASE,
      FRAGMENT_RETENTION_DAYS: '100',
      QUARANTINE_RETENTION_DAYS: '30',
      ROLLUP_RETENTION_DAYS: '3650',
      FLAG_RETENTION_DAYS: '365',
    });
    const pick = (c: ReturnType<typeof loadConfig>) => [
      c.fragmentRetentionDays,
      c.quarantineRetentionDays,
      c.rollupRetentionDays,
      c.flagRetentionDays,
    ];

    // Assess
    expect(pick(unset)).toEqual([400, 90, 2555, 730]);
    expect(pick(empty)).toEqual([400, 90, 2555, 730]);
    expect(pick(set)).toEqual([100, 30, 3650, 365]);
  });

  it('refuses a retention that is not a whole number of days, naming the variable', () => {
    // Act / Assess
    expect(() => loadConfig({ ...BASE, QUARANTINE_RETENTION_DAYS: '0' })).toThrow(/QUARANTINE_RETENTION_DAYS must be at least 1/);
    expect(() => loadConfig({ ...BASE, FLAG_RETENTION_DAYS: '7.5' })).toThrow(/FLAG_RETENTION_DAYS must be a whole number of days/);
    expect(() => loadConfig({ ...BASE, ROLLUP_RETENTION_DAYS: 'seven years' })).toThrow(/ROLLUP_RETENTION_DAYS must be a number of days/);
    expect(() => loadConfig({ ...BASE, FRAGMENT_RETENTION_DAYS: '-1' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...BASE, EVENT_RETENTION_DAYS: '0' })).toThrow(/EVENT_RETENTION_DAYS must be at least 1/);
  });
});
