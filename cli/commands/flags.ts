import { ConfigError } from '../../contract/errors.js';
import type { Flag } from '../../functions/core/fraud/types.js';
import type { stackInfo } from '../connect.js';
import { formatFlag } from '../render/flag-view.js';
import { printTable } from '../render/output.js';

interface FlagOptions {
  key?: string;
  status?: string;
  severity?: string;
  customer?: string;
  rule?: string;
  decision?: string;
  note?: string;
  from?: string;
  to?: string;
  reason?: string;
  rules?: string;
  meters?: string;
  json?: boolean;
}

/**
 * `meter flags list|show|review|expect|expected|unexpect`: goes through the review API, so the reviewer is whoever holds the key
 * (`--key` or METER_API_KEY; locally the stack's admin key when neither is given).
 */
export async function flags(
  c: ReturnType<typeof stackInfo>,
  sub: string | undefined,
  id: string | undefined,
  o: FlagOptions,
): Promise<number> {
  const url = process.env.METER_API_URL ?? c.url;
  const key = o.key ?? process.env.METER_API_KEY ?? c.adminKey;
  if (!url)
    throw new ConfigError("no stack found: start one with 'npx meter serve', or set METER_API_URL (and METER_API_KEY) to the deployed API");
  if (!key) throw new Error('no key: pass --key or set METER_API_KEY (an analyst key from `meter keys create --role analyst`)');
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const payload = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`${res.status}: ${JSON.stringify(payload.errors ?? payload.error)}`);
    return payload;
  };
  switch (sub) {
    case 'list': {
      const q = new URLSearchParams(
        Object.entries({ status: o.status, severity: o.severity, customer: o.customer, rule: o.rule }).filter(([, v]) => v) as [
          string,
          string,
        ][],
      );
      // The API answers a page at a time: follow its cursors to the last page, then order the whole list.
      const list: Listed[] = [];
      q.set('limit', '200');
      for (let cursor: string | undefined; ; ) {
        if (cursor) q.set('cursor', cursor);
        const page = (await call('GET', `/v1/flags?${q}`)) as { flags: Listed[]; cursor?: string };
        list.push(...page.flags);
        cursor = page.cursor;
        if (!cursor) break;
      }
      list.sort((a, b) => (a.window.from < b.window.from ? 1 : a.window.from > b.window.from ? -1 : 0));
      type Listed = {
        id: string;
        customerId: string;
        rule: string;
        meter: string;
        severity: string;
        score: number;
        status: string;
        window: { from: string; to: string };
        evidence: { summary: string };
      };
      if (o.json) {
        console.log(JSON.stringify(list, null, 2));
        return 0;
      }
      printTable(
        list.map((f) => ({
          id: f.id,
          customer: f.customerId,
          rule: f.rule,
          meter: f.meter,
          severity: f.severity,
          score: f.score.toFixed(2),
          status: f.status,
          from: f.window.from,
          to: f.window.to,
          evidence: f.evidence.summary,
        })),
      );
      return 0;
    }
    case 'show':
      if (!id) throw new Error('usage: meter flags show <id>');
      {
        const flag = await call('GET', `/v1/flags/${encodeURIComponent(id)}`);
        console.log(o.json ? JSON.stringify(flag, null, 2) : formatFlag(flag as unknown as Flag));
        return 0;
      }
    case 'review': {
      if (!id) throw new Error('usage: meter flags review <id> --decision confirm|dismiss --note "why"');
      const reviewed = (await call('POST', `/v1/flags/${encodeURIComponent(id)}/review`, { decision: o.decision, note: o.note })) as {
        id: string;
        status: string;
      };
      console.log(`${reviewed.id}: ${reviewed.status}`);
      return 0;
    }
    case 'expect': {
      if (!o.customer)
        throw new Error('usage: meter flags expect --customer C --from ISO --to ISO --reason "why" [--rules R,R] [--meters M,M]');
      const list = (v: string | undefined) =>
        v === undefined
          ? undefined
          : v
              .split(',')
              .map((x) => x.trim())
              .filter(Boolean);
      const body = {
        from: o.from,
        to: o.to,
        reason: o.reason,
        ...(o.rules ? { rules: list(o.rules) } : {}),
        ...(o.meters ? { meters: list(o.meters) } : {}),
      };
      const e = (await call('POST', `/v1/customers/${encodeURIComponent(o.customer)}/expected-activity`, body)) as {
        id: string;
        from: string;
        to: string;
        rules: string[];
        meters: string[];
      };
      console.log(`${e.id}: ${e.rules.join(', ')} on ${e.meters.join(', ')} expected ${e.from} .. ${e.to}`);
      return 0;
    }
    case 'expected': {
      if (!o.customer) throw new Error('usage: meter flags expected --customer C');
      type Expected = {
        id: string;
        from: string;
        to: string;
        rules: string[];
        meters: string[];
        reason: string;
        createdBy: string;
        withdrawnAt?: string;
      };
      // A page at a time, as the API answers: follow the cursors to the last page.
      const expectedActivity: Expected[] = [];
      for (let cursor: string | undefined; ; ) {
        const path = `/v1/customers/${encodeURIComponent(o.customer)}/expected-activity?limit=200${cursor ? `&cursor=${cursor}` : ''}`;
        const page = (await call('GET', path)) as { expectedActivity: Expected[]; cursor?: string };
        expectedActivity.push(...page.expectedActivity);
        cursor = page.cursor;
        if (!cursor) break;
      }
      if (o.json) {
        console.log(JSON.stringify(expectedActivity, null, 2));
        return 0;
      }
      printTable(
        expectedActivity.map((e) => ({
          id: e.id,
          from: e.from,
          to: e.to,
          rules: e.rules.join(','),
          meters: e.meters.join(','),
          by: e.createdBy,
          withdrawn: e.withdrawnAt ?? '',
          reason: e.reason,
        })),
      );
      return 0;
    }
    case 'unexpect': {
      if (!o.customer || !id) throw new Error('usage: meter flags unexpect <expected-activity id> --customer C');
      const e = (await call('DELETE', `/v1/customers/${encodeURIComponent(o.customer)}/expected-activity/${encodeURIComponent(id)}`)) as {
        id: string;
        withdrawnBy: string;
        withdrawnAt: string;
      };
      console.log(`${e.id}: withdrawn by ${e.withdrawnBy} at ${e.withdrawnAt}`);
      return 0;
    }
    default:
      throw new Error('usage: meter flags list|show|review|expect|expected|unexpect');
  }
}
