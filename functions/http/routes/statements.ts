import { NotFoundError, ValidationError } from '../../../contract/errors.js';
import { loadStatement } from '../../core/billing/statement.js';
import { renderCsv } from '../../core/billing/statement-csv.js';
import { holdsFromFlags } from '../../core/fraud/holds.js';
import type { Services } from '../../runtime/services.js';
import { authorize } from '../auth.js';
import { decodeSegment } from '../request.js';
import { json } from '../responses.js';
import type { Route } from '../router.js';

/**
 * GET /v1/statements/{customer}?period=YYYY-MM: the customer's billing statement for a period (metered,
 * reported to Stripe and when, corrections, pending and failed reports). For a customer with an anchor
 * day, `YYYY-MM` names the period starting in that month; `YYYY-MM-DD` (the period's first day) works too.
 * `format=csv` answers it as a CSV file (`renderCsv`, as `meter statement --format csv` prints it).
 */
export const getStatement: Route<Services> = async ({ event, params }, s) => {
  await authorize(event, s, ['finance', 'analyst', 'admin']);
  const id = decodeSegment(params.customer ?? '', 'customer');
  const customer = (await s.registry.customers([id])).get(id);
  if (!customer) throw new NotFoundError(`customer "${id}" is not registered`);
  const q = event.queryStringParameters ?? {};
  const format = q.format ?? 'json';
  if (!STATEMENT_API_FORMATS.includes(format))
    throw new ValidationError([{ field: 'format', message: `must be one of ${STATEMENT_API_FORMATS.join(', ')}` }]);
  const holds = holdsFromFlags(await s.flags.forCustomer(id), { holdSeverities: s.config.holdSeverities });
  const statement = await loadStatement(customer, q.period, s, holds);
  if (format === 'json') return json(200, statement);
  // A file name is a header value: anything but a plain id character becomes `_`.
  const filename = `statement-${statement.customer.id}-${statement.period.key}.csv`.replace(/[^A-Za-z0-9._-]/g, '_');
  return {
    statusCode: 200,
    headers: { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="${filename}"` },
    body: renderCsv(statement),
  };
};

/** What `format` a statement is answered in: JSON (the default) or CSV, as `meter statement --format csv` prints it. */
const STATEMENT_API_FORMATS: readonly string[] = ['json', 'csv'];
