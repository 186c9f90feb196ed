import { noSuch } from './errors.js';
import { group, optionalString, type Params } from './form-params.js';
import { newId, toSeconds } from './ids.js';
import { paginate, type Route } from './router.js';
import type { StripeState } from './state.js';
import type { CustomerRecord } from './types.js';

/** The customer endpoints metering needs: create, retrieve and list. */
export function customerRoutes(state: StripeState): Route[] {
  return [
    {
      method: 'POST',
      pattern: '/v1/customers',
      auth: 'secret',
      // Customers take dozens of parameters on Stripe; any are accepted and only these few are kept.
      handle: ({ form, nowMs }) => {
        const customer: CustomerRecord = {
          id: newId('cus_', 14),
          created: toSeconds(nowMs),
          email: optionalString(form, 'email') ?? null,
          name: optionalString(form, 'name') ?? null,
          description: optionalString(form, 'description') ?? null,
          metadata: metadataOf(form),
        };
        state.customers.set(customer.id, customer);
        return { body: customerObject(customer) };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/customers/:id',
      auth: 'secret',
      handle: ({ pathParams }) => {
        const id = pathParams.id ?? '';
        const customer = state.customers.get(id);
        if (!customer) throw noSuch('customer', id);
        return { body: customerObject(customer) };
      },
    },
    {
      method: 'GET',
      pattern: '/v1/customers',
      auth: 'secret',
      handle: ({ form }) => {
        const email = optionalString(form, 'email');
        // Stripe lists newest first.
        const all = [...state.customers.values()].reverse().filter((c) => email === undefined || c.email === email);
        return paginate(all.map(customerObject), (c) => c.id, form, '/v1/customers');
      },
    },
  ];
}

/** The Stripe `customer` object for a stored customer (fields metering never uses are fixed defaults). */
export function customerObject(c: CustomerRecord): { id: string } & Record<string, unknown> {
  return {
    id: c.id,
    object: 'customer',
    address: null,
    balance: 0,
    created: c.created,
    currency: null,
    default_source: null,
    delinquent: false,
    description: c.description,
    discount: null,
    email: c.email,
    invoice_prefix: null,
    invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
    livemode: false,
    metadata: c.metadata,
    name: c.name,
    phone: null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: 'none',
    test_clock: null,
  };
}

function metadataOf(form: Params): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(group(form, 'metadata'))) if (typeof value === 'string') out[key] = value;
  return out;
}
