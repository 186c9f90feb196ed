import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { logRequest, withRequestId } from './request-log.js';
import { errorResponse, type HttpResult, json } from './responses.js';

/** What a route is handed: the request, its `{name}` path segments (still URL-encoded), and the request's id. */
export interface RouteRequest {
  event: APIGatewayProxyEventV2;
  params: Record<string, string>;
  requestId: string;
}

/** A route: answers a request, or throws a typed error that `errorResponse` maps to its status. */
export type Route<S> = (req: RouteRequest, s: S) => Promise<HttpResult>;

/** The route for a request and its path parameters: an exact key first, then the patterns. */
export function findRoute<R>(
  routes: Readonly<Record<string, R>>,
  method: string,
  path: string,
): { route: R; params: Record<string, string> } | undefined {
  const exact = routes[`${method} ${path}`];
  if (exact) return { route: exact, params: {} };
  const actual = `${method} ${path}`.split('/');
  for (const [key, route] of Object.entries(routes)) {
    const pattern = key.split('/');
    if (pattern.length !== actual.length || !key.includes('{')) continue;
    const params: Record<string, string> = {};
    const matches = pattern.every((seg, i) => {
      const name = /^\{(\w+)\}$/.exec(seg)?.[1];
      const value = actual[i] ?? '';
      if (name === undefined) return seg === value;
      params[name] = value;
      return value !== '';
    });
    if (matches) return { route, params };
  }
  return undefined;
}

/**
 * An HTTP API handler over a table of routes ("METHOD /path"; a `{name}` segment matches any one
 * non-empty path segment): 404 for a request no route takes, and every thrown error mapped once.
 * Each request is known by API Gateway's request id (a new id when there is none, as in a test), in its
 * error answers, its audit records and its one request log line, so the stage's access log joins them.
 */
export function makeRouter<S extends { newId: () => string }>(routes: Readonly<Record<string, Route<S>>>, s: S) {
  return async (event: APIGatewayProxyEventV2): Promise<HttpResult> => {
    const startedAt = performance.now();
    const requestId = requestIdOf(event, s.newId);
    const { method } = event.requestContext.http;
    const path = event.rawPath ?? event.requestContext.http.path;
    const found = findRoute(routes, method, path);
    let res: HttpResult;
    if (!found) res = json(404, { error: `no route for ${method} ${path}` });
    else {
      try {
        res = await found.route({ event, params: found.params, requestId }, withRequestId(s, requestId));
      } catch (err) {
        res = errorResponse(err, requestId);
      }
    }
    logRequest(event, requestId, res.statusCode ?? 200, performance.now() - startedAt);
    return res;
  };
}

/** API Gateway's id of the request (`requestContext.requestId`), or a new one when it has none. */
export function requestIdOf(event: APIGatewayProxyEventV2, newId: () => string): string {
  const id = event.requestContext?.requestId;
  return typeof id === 'string' && id !== '' ? id : newId();
}
