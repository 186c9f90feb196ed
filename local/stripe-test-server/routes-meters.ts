import { invalidParam, invalidRequest, noSuch } from './errors.js';
import { checkAllowed, group, optionalString, type Params, requiredInteger, requiredString } from './form-params.js';
import { newId, toSeconds } from './ids.js';
import { paginate, type Route, type RouteContext } from './router.js';
import type { StripeState } from './state.js';
import { summarize, WINDOW_SECONDS } from './summaries.js';
import type { Formula, MeterRecord, TimeWindow } from './types.js';

const FORMULAS: readonly Formula[] = ['sum', 'count', 'last'];
const WINDOWS: readonly TimeWindow[] = ['hour', 'day'];

const CREATE_SHAPE = {
  display_name: true,
  event_name: true,
  default_aggregation: { formula: true },
  customer_mapping: { event_payload_key: true, type: true },
  value_settings: { event_payload_key: true },
  event_time_window: true,
  expand: 'any',
} as const;

/** Billing meter endpoints: create, list, retrieve, update (display name only), (de|re)activate, summaries. */
export function meterRoutes(state: StripeState): Route[] {
  const find = (ctx: RouteContext): MeterRecord => {
    const id = ctx.pathParams.id ?? '';
    const meter = state.meters.get(id);
    if (!meter) throw noSuch('billing meter', id);
    return meter;
  };
  const setStatus = (status: MeterRecord['status']) => (ctx: RouteContext) => {
    checkAllowed(ctx.form, { expand: 'any' });
    const meter = find(ctx);
    // Repeating a (de|re)activation is accepted as a no-op; the API reference documents no error for it.
    if (meter.status !== status) {
      meter.status = status;
      meter.deactivatedAt = status === 'inactive' ? toSeconds(ctx.nowMs) : null;
      meter.updated = toSeconds(ctx.nowMs);
    }
    return { body: meterObject(meter) };
  };
  return [
    { method: 'POST', pattern: '/v1/billing/meters', auth: 'secret', handle: (ctx) => ({ body: meterObject(createMeter(state, ctx)) }) },
    {
      method: 'GET',
      pattern: '/v1/billing/meters',
      auth: 'secret',
      handle: ({ form }) => {
        const status = optionalString(form, 'status');
        if (status !== undefined && status !== 'active' && status !== 'inactive') {
          throw invalidParam('Invalid status: must be one of active or inactive', 'status');
        }
        const meters = [...state.meters.values()].reverse().filter((m) => status === undefined || m.status === status);
        return paginate(meters.map(meterObject), (m) => m.id, form, '/v1/billing/meters');
      },
    },
    { method: 'GET', pattern: '/v1/billing/meters/:id', auth: 'secret', handle: (ctx) => ({ body: meterObject(find(ctx)) }) },
    {
      method: 'POST',
      pattern: '/v1/billing/meters/:id',
      auth: 'secret',
      // Meters are immutable apart from the display name, so every other parameter is "unknown" here.
      handle: (ctx) => {
        checkAllowed(ctx.form, { display_name: true, expand: 'any' });
        const meter = find(ctx);
        const displayName = optionalString(ctx.form, 'display_name');
        if (displayName !== undefined) {
          meter.displayName = checkDisplayName(displayName);
          meter.updated = toSeconds(ctx.nowMs);
        }
        return { body: meterObject(meter) };
      },
    },
    { method: 'POST', pattern: '/v1/billing/meters/:id/deactivate', auth: 'secret', handle: setStatus('inactive') },
    { method: 'POST', pattern: '/v1/billing/meters/:id/reactivate', auth: 'secret', handle: setStatus('active') },
    {
      method: 'GET',
      pattern: '/v1/billing/meters/:id/event_summaries',
      auth: 'secret',
      handle: (ctx) => eventSummaries(state, find(ctx), ctx.form),
    },
  ];
}

/** The Stripe `billing.meter` object. */
export function meterObject(m: MeterRecord): { id: string } & Record<string, unknown> {
  return {
    id: m.id,
    object: 'billing.meter',
    created: m.created,
    customer_mapping: { event_payload_key: m.customerKey, type: 'by_id' },
    default_aggregation: { formula: m.formula },
    display_name: m.displayName,
    event_name: m.eventName,
    event_time_window: m.eventTimeWindow,
    livemode: false,
    status: m.status,
    status_transitions: { deactivated_at: m.deactivatedAt },
    updated: m.updated,
    value_settings: { event_payload_key: m.valueKey },
  };
}

function createMeter(state: StripeState, { form, nowMs }: RouteContext): MeterRecord {
  checkAllowed(form, CREATE_SHAPE);
  const displayName = checkDisplayName(requiredString(form, 'display_name'));
  const eventName = requiredString(form, 'event_name');
  if (eventName.length > 100) throw invalidParam('Invalid event_name: must be at most 100 characters', 'event_name');
  const formula = requiredString(group(form, 'default_aggregation'), 'formula', 'default_aggregation[formula]');
  if (!isOneOf(FORMULAS, formula)) {
    throw invalidParam('Invalid default_aggregation[formula]: must be one of sum, count, or last', 'default_aggregation[formula]');
  }
  const window = optionalString(form, 'event_time_window');
  if (window !== undefined && !isOneOf(WINDOWS, window)) {
    throw invalidParam('Invalid event_time_window: must be one of hour or day', 'event_time_window');
  }
  const customerKey = mappedKey(form, 'customer_mapping', 'stripe_customer_id');
  const valueKey = mappedKey(form, 'value_settings', 'value');
  if (state.meterForEventName(eventName)) {
    // One event name, one meter: otherwise an event could not say which meter it feeds.
    throw invalidRequest(`A meter with event_name '${eventName}' already exists.`, 'event_name');
  }
  const created = toSeconds(nowMs);
  const meter: MeterRecord = {
    id: newId('mtr_test_', 32),
    created,
    updated: created,
    displayName,
    eventName,
    formula,
    customerKey,
    valueKey,
    eventTimeWindow: window ?? null,
    status: 'active',
    deactivatedAt: null,
  };
  state.meters.set(meter.id, meter);
  return meter;
}

/** `customer_mapping` / `value_settings`: optional groups, but complete when given. */
function mappedKey(form: Params, name: 'customer_mapping' | 'value_settings', fallback: string): string {
  if (form[name] === undefined) return fallback;
  const settings = group(form, name);
  const key = requiredString(settings, 'event_payload_key', `${name}[event_payload_key]`);
  if (name === 'customer_mapping') {
    const type = requiredString(settings, 'type', 'customer_mapping[type]');
    if (type !== 'by_id') throw invalidParam('Invalid customer_mapping[type]: must be by_id', 'customer_mapping[type]');
  }
  return key;
}

function eventSummaries(state: StripeState, meter: MeterRecord, form: Params) {
  checkAllowed(form, {
    customer: true,
    start_time: true,
    end_time: true,
    value_grouping_window: true,
    limit: true,
    starting_after: true,
    ending_before: true,
    expand: 'any',
  });
  const customer = requiredString(form, 'customer');
  const start = requiredInteger(form, 'start_time');
  const end = requiredInteger(form, 'end_time');
  const grouping = optionalString(form, 'value_grouping_window');
  if (grouping !== undefined && !isOneOf(WINDOWS, grouping)) {
    throw invalidParam('Invalid value_grouping_window: must be one of hour or day', 'value_grouping_window');
  }
  if (!state.customers.has(customer)) throw noSuch('customer', customer, 'customer');
  if (start >= end) throw invalidParam('start_time must be before end_time.', 'start_time');
  const unit = grouping === undefined ? 60 : WINDOW_SECONDS[grouping];
  const boundary = grouping === undefined ? 'minute' : grouping === 'hour' ? 'hour' : 'UTC day';
  for (const [param, value] of [
    ['start_time', start],
    ['end_time', end],
  ] as const) {
    if (value % unit !== 0) throw invalidParam(`${param} must be aligned with ${boundary} boundaries.`, param);
  }
  const summaries = summarize(state.events, meter, customer, start, end, grouping ?? null).map((b) => ({
    id: summaryId(meter.id, customer, b.start, b.end),
    object: 'billing.meter_event_summary',
    aggregated_value: b.value,
    end_time: b.end,
    livemode: false,
    meter: meter.id,
    start_time: b.start,
  }));
  return paginate(summaries, (s) => s.id, form, `/v1/billing/meters/${meter.id}/event_summaries`);
}

/** Deterministic, so pagination cursors survive between calls. */
function summaryId(meterId: string, customer: string, start: number, end: number): string {
  return `mtrusg_test_${Buffer.from(`${meterId}|${customer}|${start}|${end}`).toString('base64url')}`;
}

function checkDisplayName(name: string): string {
  if (name.length > 250) throw invalidParam('Invalid display_name: must be at most 250 characters', 'display_name');
  return name;
}

function isOneOf<T extends string>(options: readonly T[], value: string): value is T {
  return (options as readonly string[]).includes(value);
}
