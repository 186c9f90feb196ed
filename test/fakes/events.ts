import type { IngestResult } from '../../functions/core/ingest/ingest.js';

/** Builders of contract-v1 CloudEvents for tests. */
let seq = 0;

export function apiCall(customer: string, over: Record<string, unknown> = {}, data: Record<string, unknown> = {}) {
  return {
    specversion: '1.0',
    type: 'com.serenity.api.call',
    source: 'local',
    subject: customer,
    id: `t-${++seq}-${Math.random().toString(36).slice(2)}`,
    time: new Date().toISOString(),
    data: { operation: 'encrypt', ...data },
    ...over,
  };
}

export function userActive(customer: string, userId: string, over: Record<string, unknown> = {}) {
  return {
    specversion: '1.0',
    type: 'com.serenity.user.active',
    source: 'local',
    subject: customer,
    id: `u-${++seq}-${Math.random().toString(36).slice(2)}`,
    time: new Date().toISOString(),
    data: { userId },
    ...over,
  };
}

export function fileEvent(customer: string, fileId: string, op: 'protected' | 'unprotected', over: Record<string, unknown> = {}) {
  return {
    specversion: '1.0',
    type: `com.serenity.file.${op}`,
    source: 'local',
    subject: customer,
    id: `f-${++seq}-${Math.random().toString(36).slice(2)}`,
    time: new Date().toISOString(),
    data: { fileId },
    ...over,
  };
}

/** What POST /v1/events answers: the accepted and rejected events (202, 503), or why it refused the request (400, 401, 403, 413). */
export interface IngestResponse {
  accepted?: IngestResult['accepted'];
  rejected?: IngestResult['rejected'];
  error?: string;
}

/** POSTs a batch to the local stack's ingest endpoint. */
export async function post(url: string, key: string | undefined, body: unknown, contentType = 'application/cloudevents-batch+json') {
  const res = await fetch(`${url}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': contentType, ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as IngestResponse };
}
