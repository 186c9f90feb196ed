import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { truncateIp } from '../../contract/privacy.js';
import type { AuditEntry, AuditLog } from '../core/shared/ports.js';
import { logger } from '../runtime/logger.js';
import { callerOfRequest } from './auth.js';

/**
 * The one log line of an HTTP request, keyed by API Gateway's request id so it joins the stage's access log.
 * The access log leaves the source address out (API Gateway cannot shorten it): this line carries its /24
 * (`truncateIp`, never the address) and the principal of the key or user the route authenticated.
 */
export function logRequest(event: APIGatewayProxyEventV2, requestId: string, status: number, latencyMs: number): void {
  const ip = event.requestContext?.http?.sourceIp;
  const ipPrefix = ip ? truncateIp(ip) : undefined;
  const caller = callerOfRequest(event);
  logger.info('request', {
    requestId,
    method: event.requestContext?.http?.method,
    route: event.routeKey,
    status,
    latencyMs: Math.round(latencyMs),
    ...(ipPrefix ? { ipPrefix } : {}),
    ...(caller ? { principal: caller.principal, role: caller.role } : {}),
  });
}

/**
 * The services a route is handed for one request: the same, except that every audit record written through
 * them carries the request's id (`requestId`), whichever use case writes it.
 */
export function withRequestId<S>(s: S, requestId: string): S {
  const audit = (s as { audit?: AuditLog }).audit;
  if (!audit || typeof audit.record !== 'function') return s;
  // Every other method (list, search) is the adapter's own, called on the adapter itself.
  const tagged = new Proxy(audit, {
    get(target, prop) {
      if (prop === 'record') return (entry: AuditEntry) => target.record({ ...entry, requestId });
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { ...s, audit: tagged };
}
