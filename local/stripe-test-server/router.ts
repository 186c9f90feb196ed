import { invalidParam } from './errors.js';
import { optionalInteger, optionalString, type Params } from './form-params.js';

/** What a handler sees of one request. */
export interface RouteContext {
  method: string;
  path: string;
  pathParams: Record<string, string>;
  /** v1 parameters: the form body of a POST, the query string of a GET. */
  form: Params;
  /** v2 body, parsed JSON (`{}` when empty). */
  json: unknown;
  nowMs: number;
}

/** A handler's successful answer. */
export interface ApiResult {
  status?: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** One endpoint of the fake API. */
export interface Route {
  method: 'GET' | 'POST';
  /** Path template with `:name` segments, e.g. `/v1/billing/meters/:id`. */
  pattern: string;
  /** `session` routes take a meter event session token instead of a secret key. */
  auth: 'secret' | 'session';
  handle(ctx: RouteContext): ApiResult;
  /** Customer-and-meter key for the "one concurrent call per customer per meter" rule, when it applies. */
  concurrencyKey?(ctx: RouteContext): string | null;
}

/** A route matched against a request path. */
export interface RouteMatch {
  route: Route;
  pathParams: Record<string, string>;
}

/** Matches method and path against route templates. */
export class Router {
  private readonly compiled: Array<{ route: Route; regex: RegExp; names: string[] }>;

  constructor(routes: Route[]) {
    this.compiled = routes.map((route) => {
      const names: string[] = [];
      const source = route.pattern.replace(/:([a-z_]+)/g, (_m, name: string) => {
        names.push(name);
        return '([^/]+)';
      });
      return { route, regex: new RegExp(`^${source}$`), names };
    });
  }

  /** The route for this request, or undefined (Stripe answers an unknown method+path with 404). */
  match(method: string, path: string): RouteMatch | undefined {
    for (const { route, regex, names } of this.compiled) {
      if (route.method !== method) continue;
      const m = regex.exec(path);
      if (!m) continue;
      const pathParams: Record<string, string> = {};
      names.forEach((name, i) => {
        pathParams[name] = decodeURIComponent(m[i + 1] ?? '');
      });
      return { route, pathParams };
    }
    return undefined;
  }
}

/** Stripe's list envelope with `limit` / `starting_after` / `ending_before` cursor pagination. */
export function paginate<T>(items: readonly T[], idOf: (item: T) => string, form: Params, url: string): ApiResult {
  const limit = optionalInteger(form, 'limit') ?? 10;
  if (limit < 1 || limit > 100) throw invalidParam('Invalid limit: must be between 1 and 100', 'limit');
  const after = optionalString(form, 'starting_after');
  const before = optionalString(form, 'ending_before');
  let page: readonly T[];
  let hasMore: boolean;
  if (after !== undefined) {
    const index = cursorIndex(items, idOf, after, 'starting_after');
    page = items.slice(index + 1, index + 1 + limit);
    hasMore = index + 1 + limit < items.length;
  } else if (before !== undefined) {
    const index = cursorIndex(items, idOf, before, 'ending_before');
    const from = Math.max(0, index - limit);
    page = items.slice(from, index);
    hasMore = from > 0;
  } else {
    page = items.slice(0, limit);
    hasMore = limit < items.length;
  }
  return { body: { object: 'list', data: page, has_more: hasMore, url } };
}

function cursorIndex<T>(items: readonly T[], idOf: (item: T) => string, id: string, param: string): number {
  const index = items.findIndex((item) => idOf(item) === id);
  if (index === -1) throw invalidParam(`Invalid ${param}: '${id}' is not in this list`, param);
  return index;
}
