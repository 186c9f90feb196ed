import type Stripe from 'stripe';
import { beforeEach, describe, expect, it } from 'vitest';
import type { StripeTestServer } from '../../../../local/stripe-test-server/index.js';
import { caught, HOUR, T0, T0_MS, useServer } from '../../../fakes/stripe-test-server.js';

let server: StripeTestServer;
let stripe: Stripe;
let customerId: string;
const meters: Record<string, Stripe.Billing.Meter> = {};

useServer((s, sdk) => ([server, stripe] = [s, sdk]));
beforeEach(async () => {
  // Three hours after T0, so every event below lies in the past.
  server.clock.set(T0_MS + 3 * HOUR * 1000);
  customerId = (await stripe.customers.create({})).id;
  const make = (event_name: string, formula: 'sum' | 'count' | 'last', event_time_window?: 'hour') =>
    stripe.billing.meters.create({ display_name: event_name, event_name, default_aggregation: { formula }, event_time_window });
  meters.sum = await make('tokens', 'sum');
  meters.count = await make('logins', 'count');
  meters.last = await make('seats', 'last');
  meters.windowed = await make('hourly_tokens', 'sum', 'hour');
});

const send = (event_name: string, timestamp: number, value?: string) =>
  stripe.billing.meterEvents.create({
    event_name,
    timestamp,
    payload: value === undefined ? { stripe_customer_id: customerId } : { stripe_customer_id: customerId, value },
  });

const total = async (meter: Stripe.Billing.Meter | undefined, start: number, end: number) => {
  const list = await stripe.billing.meters.listEventSummaries(meter?.id ?? '', { customer: customerId, start_time: start, end_time: end });
  expect(list.data).toHaveLength(1);
  return list.data[0]?.aggregated_value;
};

describe('aggregation formulas over [start_time, end_time)', () => {
  it('sums, counts and takes the last value, counting start and excluding end', async () => {
    // Prepare
    for (const [ts, value] of [
      [T0 - 1, '1000'],
      [T0, '5'],
      [T0 + 1800, '7'],
      [T0 + HOUR + 5, '3'],
      [T0 + 2 * HOUR, '100'],
    ] as const) {
      await send('tokens', ts, value);
      await send('logins', ts);
    }
    await send('seats', T0 + 100, '4');
    await send('seats', T0 + 3000, '9');
    await send('seats', T0 + 50, '20'); // arrives last but is older: not the "last" value
    // Act
    const sum = await total(meters.sum, T0, T0 + 2 * HOUR);
    const count = await total(meters.count, T0, T0 + 2 * HOUR);
    const last = await total(meters.last, T0, T0 + 2 * HOUR);
    // Assess
    expect(sum).toBe(15);
    expect(count).toBe(3);
    expect(last).toBe(9);
  });

  it('breaks a tie on timestamp for last by arrival order', async () => {
    // Prepare
    await send('seats', T0 + 60, '9');
    await send('seats', T0 + 60, '11');
    // Act
    const last = await total(meters.last, T0, T0 + HOUR);
    // Assess
    expect(last).toBe(11);
  });

  it('returns one zero summary for an empty ungrouped range', async () => {
    // Act
    const list = await stripe.billing.meters.listEventSummaries(meters.sum?.id ?? '', {
      customer: customerId,
      start_time: T0,
      end_time: T0 + 60,
    });
    // Assess
    expect(list).toMatchObject({ object: 'list', has_more: false, url: `/v1/billing/meters/${meters.sum?.id}/event_summaries` });
    expect(list.data).toEqual([
      expect.objectContaining({
        object: 'billing.meter_event_summary',
        aggregated_value: 0,
        start_time: T0,
        end_time: T0 + 60,
        meter: meters.sum?.id,
        livemode: false,
      }),
    ]);
  });
});

describe('value_grouping_window', () => {
  it('groups by hour, newest window first, leaving out empty hours, and paginates', async () => {
    // Prepare
    await send('tokens', T0 + 10, '5');
    await send('tokens', T0 + 1800, '7');
    await send('tokens', T0 + HOUR + 5, '3');
    // Act
    const grouped = await stripe.billing.meters.listEventSummaries(meters.sum?.id ?? '', {
      customer: customerId,
      start_time: T0,
      end_time: T0 + 3 * HOUR,
      value_grouping_window: 'hour',
    });
    const paged = await stripe.billing.meters
      .listEventSummaries(meters.sum?.id ?? '', {
        customer: customerId,
        start_time: T0,
        end_time: T0 + 3 * HOUR,
        value_grouping_window: 'hour',
        limit: 1,
      })
      .autoPagingToArray({ limit: 10 });
    // Assess
    expect(grouped.data.map((s) => [s.start_time, s.end_time, s.aggregated_value])).toEqual([
      [T0 + HOUR, T0 + 2 * HOUR, 3],
      [T0, T0 + HOUR, 12],
    ]);
    expect(paged.map((s) => s.id)).toEqual(grouped.data.map((s) => s.id));
  });

  it('groups by UTC day', async () => {
    // Prepare
    const midnight = T0 - 12 * HOUR;
    await send('tokens', T0 + 10, '5');
    await send('tokens', T0 + HOUR, '6');
    // Act
    const list = await stripe.billing.meters.listEventSummaries(meters.sum?.id ?? '', {
      customer: customerId,
      start_time: midnight,
      end_time: midnight + 24 * HOUR,
      value_grouping_window: 'day',
    });
    // Assess
    expect(list.data.map((s) => [s.start_time, s.aggregated_value])).toEqual([[midnight, 11]]);
  });

  it('rejects times not aligned to the minute, the hour or the UTC day', async () => {
    // Prepare
    const query = (start_time: number, end_time: number, value_grouping_window?: 'hour' | 'day') =>
      caught(
        stripe.billing.meters.listEventSummaries(meters.sum?.id ?? '', {
          customer: customerId,
          start_time,
          end_time,
          value_grouping_window,
        }),
      );
    // Act
    const seconds = await query(T0 + 30, T0 + HOUR);
    const minutes = await query(T0, T0 + HOUR + 60, 'hour');
    const noon = await query(T0, T0 + 24 * HOUR, 'day');
    const backwards = await query(T0 + HOUR, T0);
    // Assess
    expect(seconds).toMatchObject({ statusCode: 400, param: 'start_time' });
    expect(seconds.message).toContain('minute boundaries');
    expect(minutes).toMatchObject({ statusCode: 400, param: 'end_time' });
    expect(minutes.message).toContain('hour boundaries');
    expect(noon).toMatchObject({ statusCode: 400, param: 'start_time' });
    expect(backwards).toMatchObject({ statusCode: 400, param: 'start_time' });
  });

  it('answers 404 for an unknown customer', async () => {
    // Act
    const error = await caught(
      stripe.billing.meters.listEventSummaries(meters.sum?.id ?? '', { customer: 'cus_ghost', start_time: T0, end_time: T0 + HOUR }),
    );
    // Assess
    expect(error).toMatchObject({ statusCode: 404, code: 'resource_missing' });
  });
});

describe('event_time_window (pre-aggregated meters)', () => {
  it('counts only the newest event of each window', async () => {
    // Prepare
    await send('hourly_tokens', T0 + 10, '50');
    await send('hourly_tokens', T0 + 1200, '80');
    await send('hourly_tokens', T0 + 600, '999'); // sent last, but older within the hour
    await send('hourly_tokens', T0 + HOUR, '30');
    // Act
    const sum = await total(meters.windowed, T0, T0 + 2 * HOUR);
    // Assess
    expect(sum).toBe(110);
  });
});
