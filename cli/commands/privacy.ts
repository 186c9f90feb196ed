import { writeFileSync } from 'node:fs';
import { sendPrivacyJob } from '../../functions/adapters/aws/privacy-jobs.js';
import type { PrivacyRequest, PrivacyRequestType } from '../../functions/core/privacy/requests.js';
import { privacyDepsOf, requestPrivacy, runPrivacyRequest } from '../../functions/core/privacy/run-request.js';
import { CLOSE_QUEUE } from '../../functions/resources.js';
import type { Connection } from '../connect.js';
import { printTable } from '../render/output.js';
import { cliActor } from './customers.js';

interface PrivacyOptions {
  customer?: string;
  'no-wait'?: boolean;
  user?: string;
  reason?: string;
  out?: string;
  json?: boolean;
}

/**
 * `meter privacy export --customer C --user U [--out file.json]`, `meter privacy erase --customer C [--user U] --reason R`:
 * makes the request and waits for it, with its progress on stderr; an export's document goes to `--out` or stdout.
 * Exit 0 when done.
 */
export async function privacyRequest(c: Connection, type: PrivacyRequestType, o: PrivacyOptions): Promise<number> {
  if (!o.customer)
    throw new Error(`usage: meter privacy ${type} --customer C ${type === 'erase' ? '[--user U] --reason "why"' : '[--user U]'}`);
  const deps = privacyDepsOf(c.services);
  let r = await requestPrivacy({ type, customerId: o.customer, userId: o.user, reason: o.reason, actor: cliActor() }, deps);
  console.error(`request ${r.id}: ${r.type} ${r.status}`);
  if (o['no-wait']) {
    // The job goes to the close worker; `meter privacy requests` (or GET /v1/privacy/requests/{id}) follows it.
    const queueUrl = c.env[CLOSE_QUEUE.env];
    if (r.status === 'queued') {
      if (!queueUrl) throw new Error(`--no-wait needs the close queue (${CLOSE_QUEUE.env}) to hand the job to; run without it to wait`);
      await sendPrivacyJob(c.services.clients.sqs, queueUrl, r.id);
    }
    console.log(r.id);
    return 0;
  }
  if (r.status === 'queued') {
    r = await runPrivacyRequest(r.id, deps, (p) => {
      if (p.status === 'running' && p.progress.total > 0) console.error(`  ${p.progress.step} ${p.progress.done}/${p.progress.total}`);
    });
    r = (await deps.requests.get(r.id)) ?? r;
  }
  for (const note of r.notes) console.error(note);
  if (type === 'export') {
    const document = await deps.requests.getExport(r.id);
    if (document === undefined) throw new Error(`request ${r.id} has no export (status ${r.status})`);
    const pretty = `${JSON.stringify(JSON.parse(document), null, 2)}\n`;
    if (o.out) {
      writeFileSync(o.out, pretty);
      console.error(
        `wrote ${o.out} (${Object.entries(r.counts)
          .map(([k, n]) => `${k} ${n}`)
          .join(', ')})`,
      );
    } else process.stdout.write(pretty);
  } else
    console.log(
      `erased: ${Object.entries(r.counts)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')}`,
    );
  return r.status === 'done' ? 0 : 1;
}

/** `meter privacy requests [--json]`: every request kept, newest first. */
export async function listPrivacyRequests(c: Connection, o: PrivacyOptions): Promise<void> {
  const all: PrivacyRequest[] = [];
  let cursor: string | undefined;
  do {
    const page = await c.services.privacyRequests.list({ limit: 100, ...(cursor !== undefined ? { cursor } : {}) });
    all.push(...page.items);
    cursor = page.cursor;
  } while (cursor !== undefined);
  all.sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
  if (o.json) return console.log(JSON.stringify(all, null, 2));
  printTable(
    all.map((r) => ({
      id: r.id,
      at: r.createdAt,
      type: r.type,
      customer: r.customerId,
      subject: r.userRef ?? (r.unknownUser ? 'unknown user' : 'customer'),
      status: r.status,
      by: r.actor,
      counts: Object.entries(r.counts)
        .map(([k, n]) => `${k} ${n}`)
        .join(', '),
    })),
  );
}
