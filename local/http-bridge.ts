import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { findRoute } from '../functions/http/router.js';
import type { ConsoleServer } from './console-server.js';

export type HttpHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/** Routes "METHOD /path" (`{name}` for a path parameter) to a handler, as the HTTP API's routes do. */
export type RouteTable = Record<string, HttpHandler>;

const MAX_BODY = 6 * 1024 * 1024; // API Gateway's payload limit; the handler enforces its own.

/**
 * Serves Lambda HTTP handlers on node:http, translating each request into an API Gateway HTTP API
 * (payload v2) event, so the local stack runs exactly the code that runs behind API Gateway.
 */
export function startHttpBridge(routes: RouteTable, opts: { port: number; host?: string; console?: ConsoleServer }): Promise<Server> {
  const server = createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      if (body === undefined) {
        res.writeHead(413, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'payload too large' }));
        return;
      }
      const headers = headersOf(req);
      if (opts.console) {
        const url = new URL(req.url ?? '/', 'http://local');
        const outcome = await opts.console.handle({
          method: req.method ?? 'GET',
          path: url.pathname,
          query: url.searchParams,
          headers,
          body,
        });
        if ('respond' in outcome) {
          res.writeHead(outcome.respond.statusCode, outcome.respond.headers).end(outcome.respond.body);
          return;
        }
        // Not the console's: an API request, with the session's key as its bearer when it came with the cookie.
        for (const k of Object.keys(headers)) delete headers[k];
        Object.assign(headers, outcome.forward);
      }
      const event = toEvent(req, headers, body);
      const handler = findRoute(routes, event.requestContext.http.method, event.rawPath)?.route;
      const out = handler
        ? await handler(event)
        : { statusCode: 404, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: 'not found' }) };
      res.writeHead(out.statusCode ?? 200, out.headers as Record<string, string>);
      res.end(out.isBase64Encoded ? Buffer.from(out.body ?? '', 'base64') : (out.body ?? ''));
    } catch (err) {
      res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: (err as Error).message }));
    }
  });
  return new Promise((resolve) => server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve(server)));
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) tooBig = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(tooBig ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  return headers;
}

function toEvent(req: IncomingMessage, headers: Record<string, string>, body: Buffer): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? '/', 'http://local');
  const query = Object.fromEntries(url.searchParams.entries());
  const method = req.method ?? 'GET';
  return {
    version: '2.0',
    routeKey: `${method} ${url.pathname}`,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    queryStringParameters: Object.keys(query).length ? query : undefined,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: `local-${Date.now()}`,
      routeKey: `${method} ${url.pathname}`,
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    body: body.length ? body.toString('base64') : undefined,
    isBase64Encoded: body.length > 0,
  } as APIGatewayProxyEventV2;
}
