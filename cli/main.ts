import { parseArgs } from 'node:util';
import { MeteringError, ValidationError } from '../contract/errors.js';
import { backtest } from './commands/backtest.js';
import { addCustomer, listCustomers } from './commands/customers.js';
import { runReconcile, showStatement } from './commands/finance.js';
import { flags } from './commands/flags.js';
import { nightly, stripeSetup } from './commands/nightly.js';
import { createKey, health, redriveDlq, showAudit, showUsage } from './commands/ops.js';
import { listPrivacyRequests, privacyRequest } from './commands/privacy.js';
import { listQuarantine, replay } from './commands/quarantine.js';
import { serve } from './commands/serve.js';
import { connect, disconnect, stackInfo } from './connect.js';
import { endQuietlyOnClosedPipe, exitWhenFlushed } from './render/output.js';

const HELP = `meter: Serenity usage metering

  meter serve [--port 4000] [--data-dir .meter]      run the embedded stack (DynamoDB Local, SQS, consumer, HTTP API)
  meter customers add <id> [--name N] [--stripe-customer cus_…] [--anchor-day 1-31] [--started-at ISO]
  meter customers list [--json]
  meter keys create --role ingest|analyst|admin --principal NAME [--source S] [--customers A,B | --customer-prefix P]
  meter usage --customer C [--from ISO] [--to ISO] [--granularity hour|day] [--json]
  meter quarantine list [--customer C] [--reason unknown_customer|invalid|malformed_message] [--json]
  meter quarantine replay [--customer C] [--reason R]
  meter dlq redrive
  meter health
  meter audit [--day YYYY-MM-DD] [--json]
  meter nightly [--date YYYY-MM-DD] [--json]        close a UTC day (default yesterday) and report it to Stripe
  meter stripe setup                                 create or verify the three Stripe meters
  meter backtest --input series.csv [--granularity hour|day]   score a timestamp,value CSV with the spike detector
  meter flags list [--status S] [--severity S] [--customer C] [--rule R] [--key K] [--json]
  meter flags show <id> [--key K] [--json]   (evidence as text; new prefixes and countries marked *)
  meter flags review <id> --decision confirm|dismiss --note "why" [--key K]   (the reviewer is the key's holder)
  meter flags expect --customer C --from ISO --to ISO --reason "why" [--rules R,R] [--meters M,M] [--key K]
                                                     usage the customer told us to expect (a backfill, a migration):
                                                     the named rules (default volume_spike,off_hours_burst) do not
                                                     flag or hold inside it
  meter flags expected --customer C [--key K] [--json]
  meter flags unexpect <id> --customer C [--key K]      withdraw it: from then on the rules flag inside it again
  meter statement --customer C --period YYYY-MM [--format table|json|csv]
                                                     metered, reported to Stripe (and when), corrections, pending, errors
  meter reconcile --period YYYY-MM [--customer C] [--fix] [--json]
                                                     rollups vs ledger vs Stripe's totals; --fix resends stuck reports
                                                     and re-sends usage Stripe lost; non-zero while differences remain
  meter privacy export --customer C [--user U] [--reason R] [--out file.json] [--no-wait]
                                                     everything held about one end user (or the customer), as JSON
                                                     with a CSV per table
  meter privacy erase --customer C [--user U] --reason "why" [--no-wait]
                                                     a user: unlinked from everything stored, counts and invoices stay;
                                                     no --user: the whole customer, but the ledger kept for tax
  meter privacy requests [--json]                    the privacy requests kept (30 days), newest first
  (--period: YYYY-MM is a calendar month, or for a customer with an anchor day the period starting in
   that month; such a customer's period may also be named by its first day, YYYY-MM-DD)

Commands other than serve talk to the stack that 'meter serve' runs (found through --data-dir/stack.json),
or to AWS when there is none (table names and queue URLs from the environment, as the Lambda functions read them).`;

const OPTIONS = {
  allowPositionals: true,
  options: {
    port: { type: 'string' },
    'data-dir': { type: 'string' },
    name: { type: 'string' },
    'stripe-customer': { type: 'string' },
    'anchor-day': { type: 'string' },
    'started-at': { type: 'string' },
    customers: { type: 'string' },
    'customer-prefix': { type: 'string' },
    customer: { type: 'string' },
    user: { type: 'string' },
    out: { type: 'string' },
    reason: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    granularity: { type: 'string' },
    role: { type: 'string' },
    principal: { type: 'string' },
    source: { type: 'string' },
    day: { type: 'string' },
    date: { type: 'string' },
    input: { type: 'string' },
    note: { type: 'string' },
    decision: { type: 'string' },
    rule: { type: 'string' },
    rules: { type: 'string' },
    meters: { type: 'string' },
    severity: { type: 'string' },
    status: { type: 'string' },
    key: { type: 'string' },
    period: { type: 'string' },
    format: { type: 'string' },
    fix: { type: 'boolean' },
    'no-wait': { type: 'boolean' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
} as const;

/** Parses the command line; an unknown flag or a flag without its value is a usage error (exit 2), named, without a stack trace. */
function parseOrExit() {
  try {
    return parseArgs(OPTIONS);
  } catch (err) {
    console.error(`error: ${(err as Error).message}\nrun 'meter --help' for the commands and their flags`);
    return process.exit(2);
  }
}
const { values: o, positionals: args } = parseOrExit();

/**
 * Each command's flags, read from its line of HELP (one definition): a flag another command takes is a
 * usage error here, not silently ignored (`meter nightly --day` would close yesterday).
 */
const FLAGS_OF = new Map(
  HELP.split('\n')
    .filter((line) => line.startsWith('  meter '))
    .map((line) => {
      const words = line.slice('  meter '.length).split(' ');
      const end = words.findIndex((w) => !/^[a-z]+$/.test(w));
      return [
        words.slice(0, end < 0 ? words.length : end).join(' '),
        new Set([...line.matchAll(/--([a-z-]+)/g)].map((m) => m[1]!)),
      ] as const;
    }),
);

/** The command named by the first one or two words, or undefined; and the given flags it does not take. */
function commandOf(cmd: string, sub: string | undefined): { name: string; foreign: string[] } | undefined {
  const name = sub !== undefined && FLAGS_OF.has(`${cmd} ${sub}`) ? `${cmd} ${sub}` : FLAGS_OF.has(cmd) ? cmd : undefined;
  if (name === undefined) return undefined;
  const allowed = FLAGS_OF.get(name)!;
  return { name, foreign: Object.keys(o).filter((f) => f !== 'help' && f !== 'data-dir' && !allowed.has(f)) };
}

async function main(): Promise<number> {
  const [cmd, sub, ...rest] = args;
  // Help asked for is a success; no command at all is a usage error.
  if (!cmd || o.help) {
    console.log(HELP);
    return o.help ? 0 : 2;
  }
  // Checked before connecting, so a typo is named as such even where no stack or AWS settings exist.
  const command = commandOf(cmd, sub);
  if (!command) {
    console.error(`unknown command: ${args.join(' ')}\n\n${HELP}`);
    return 2;
  }
  if (command.foreign.length > 0) {
    console.error(
      `error: 'meter ${command.name}' does not take ${command.foreign.map((f) => `--${f}`).join(', ')}; it takes ${[...FLAGS_OF.get(command.name)!].map((f) => `--${f}`).join(', ') || 'no flags'}`,
    );
    return 2;
  }
  if (cmd === 'serve') {
    await serve({ port: o.port, dataDir: o['data-dir'] });
    return -1; // keeps running until a signal
  }
  if (cmd === 'backtest') {
    backtest(o); // pure: needs no stack
    return 0;
  }
  if (cmd === 'flags') return await flags(stackInfo(o['data-dir']), sub, rest[0], o); // through the API: needs no tables
  const c = connect(o['data-dir']);
  try {
    switch (`${cmd} ${sub ?? ''}`.trim()) {
      case 'customers add':
        if (!rest[0]) throw new Error('usage: meter customers add <id>');
        await addCustomer(c, rest[0], {
          name: o.name,
          stripeCustomer: o['stripe-customer'],
          anchorDay: o['anchor-day'],
          startedAt: o['started-at'],
        });
        return 0;
      case 'customers list':
        await listCustomers(c, !!o.json);
        return 0;
      case 'keys create':
        await createKey(c, o);
        return 0;
      case 'usage':
        await showUsage(c, o);
        return 0;
      case 'quarantine list':
        await listQuarantine(c, o);
        return 0;
      case 'quarantine replay':
        return await replay(c, o);
      case 'dlq redrive':
        await redriveDlq(c);
        return 0;
      case 'health':
        return await health(c);
      case 'audit':
        await showAudit(c, o);
        return 0;
      case 'nightly':
        return await nightly(c, o);
      case 'stripe setup':
        await stripeSetup(c);
        return 0;
      case 'statement':
        await showStatement(c, o);
        return 0;
      case 'reconcile':
        return await runReconcile(c, o);
      case 'privacy export':
      case 'privacy erase':
        return await privacyRequest(c, sub as 'export' | 'erase', o);
      case 'privacy requests':
        await listPrivacyRequests(c, o);
        return 0;
      default:
        console.error(`unknown command: ${args.join(' ')}\n\n${HELP}`);
        return 2;
    }
  } finally {
    disconnect(c);
  }
}

endQuietlyOnClosedPipe();
main().then(
  async (code) => {
    if (code >= 0) await exitWhenFlushed(code);
  },
  async (err: unknown) => {
    if (err instanceof ValidationError) console.error(`error: ${err.errors.map((e) => `${e.field}: ${e.message}`).join('\n       ')}`);
    else if (err instanceof MeteringError) console.error(`error: ${err.message}`);
    else console.error(`error: ${(err as Error).message}`);
    await exitWhenFlushed(1);
  },
);
