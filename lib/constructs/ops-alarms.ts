import { Duration } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type HandlerName, handlerConstructId } from '../../functions/resources.js';
import { METRIC, METRICS_NAMESPACE, type MetricName } from '../../functions/runtime/metric-names.js';

/** The thresholds of the operators' alarms (docs/operations.md says what each means and what to do). */
export const OPS_THRESHOLDS = {
  /** Messages on a dead-letter queue: any. */
  dlqMessages: 0,
  /** The oldest UsageEvents message, in seconds: 15 minutes. */
  oldestEventSeconds: 900,
  /** A function's errors or throttles in 5 minutes: any. */
  functionErrors: 0,
  functionThrottles: 0,
  /** A table's read plus write throttle events in 5 minutes: any. */
  tableThrottles: 0,
  /** An HTTP API's 5xx answers, in per cent of its requests over 5 minutes. */
  api5xxPercent: 1,
  /** `NightClosed` below 1: the 03:00 UTC check found last night's close not completed. */
  nightClosed: 1,
  /** Ledger records pending over 12 hours: any. */
  pendingOver12h: 0,
  /** Holds within 7 days of their escalation deadline: any. */
  holdsNearEscalation: 0,
} as const;

/** The 03:00 UTC schedule of the close check, and the event it sends the close-planner. */
export const NIGHT_CHECK = { cron: { minute: '0', hour: '3' }, event: { check: 'night-closed' } } as const;

/** What the alarms watch. */
export interface OpsAlarmsProps {
  /** Every function, by its one name. */
  readonly functions: Readonly<Record<HandlerName, IFunction>>;
  /** Dead-letter queues by name (UsageEventsDlq, CloseWorkDlq, PlannerFailures). */
  readonly dlqs: Readonly<Record<string, IQueue>>;
  readonly eventQueue: IQueue;
  readonly tables: Readonly<Record<string, Table>>;
  /** The HTTP APIs by name (the public API, the console's). */
  readonly apis: Readonly<Record<string, HttpApi>>;
}

/**
 * The operators' alarms and dashboard: every alarm notifies the `OpsAlarms` SNS topic (encrypted with a key
 * CloudWatch may use: the AWS-managed SNS key would silently drop its notifications), and the 03:00 UTC
 * schedule that asks the close-planner whether last night's close completed (the `NightClosed` metric).
 * @example new OpsAlarms(this, 'Monitoring', { functions, dlqs, eventQueue, tables, apis });
 */
export class OpsAlarms extends Construct {
  readonly topic: Topic;
  readonly dashboard: Dashboard;
  readonly alarms: Alarm[] = [];
  readonly nightCheck: Rule;
  private readonly action: SnsAction;

  constructor(scope: Construct, id: string, props: OpsAlarmsProps) {
    super(scope, id);
    const key = new Key(this, 'OpsAlarmsKey', { enableKeyRotation: true, description: 'OpsAlarms topic: CloudWatch alarm notifications' });
    key.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    this.topic = new Topic(this, 'OpsAlarms', { displayName: 'Serenity metering: operator alarms', enforceSSL: true, masterKey: key });
    this.action = new SnsAction(this.topic);
    const T = OPS_THRESHOLDS;
    const five = Duration.minutes(5);

    for (const [name, dlq] of Object.entries(props.dlqs))
      this.alarm(`${name}Messages`, dlq.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: five }), T.dlqMessages, {
        description: `${name} holds messages: something failed every retry`,
      });
    this.alarm(
      'UsageEventsOldestMessage',
      props.eventQueue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: five }),
      T.oldestEventSeconds,
      {
        description: 'the oldest UsageEvents message is 15 minutes old or older: the consumer is behind or failing',
        operator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      },
    );
    for (const [name, fn] of Object.entries(props.functions)) {
      this.alarm(
        `${handlerConstructId(name as HandlerName)}Errors`,
        fn.metricErrors({ period: five, statistic: 'Sum' }),
        T.functionErrors,
        { description: `${name} errors` },
      );
      this.alarm(
        `${handlerConstructId(name as HandlerName)}Throttles`,
        fn.metricThrottles({ period: five, statistic: 'Sum' }),
        T.functionThrottles,
        {
          description: `${name} throttled`,
        },
      );
    }
    for (const [name, table] of Object.entries(props.tables)) {
      const throttles = new MathExpression({
        expression: 'FILL(r, 0) + FILL(w, 0)',
        usingMetrics: {
          r: table.metric('ReadThrottleEvents', { statistic: 'Sum', period: five }),
          w: table.metric('WriteThrottleEvents', { statistic: 'Sum', period: five }),
        },
        label: `${name} throttle events`,
        period: five,
      });
      this.alarm(`${name}Throttles`, throttles, T.tableThrottles, { description: `DynamoDB throttled requests on ${name}` });
    }
    for (const [name, api] of Object.entries(props.apis)) {
      const rate = new MathExpression({
        expression: 'IF(FILL(c, 0) > 0, 100 * FILL(e, 0) / c, 0)',
        usingMetrics: {
          e: api.metricServerError({ period: five, statistic: 'Sum' }),
          c: api.metricCount({ period: five, statistic: 'Sum' }),
        },
        label: `${name} 5xx %`,
        period: five,
      });
      this.alarm(`${name}5xxRate`, rate, T.api5xxPercent, { description: `${name}: over 1% of requests answered 5xx in 5 minutes` });
    }

    // A night's check lands once a day, at 03:00 UTC: every 26-hour window holds at least one. A 0 is ALARM;
    // no check at all in 26 hours (the schedule or the function broken) is INSUFFICIENT_DATA, notified too.
    const nightClosed = this.alarm(
      'NightClosed',
      custom(METRIC.nightClosed, 'close-planner', 'Minimum', Duration.hours(1)),
      T.nightClosed,
      {
        description: "the 03:00 UTC check found last night's close not completed (or no check ran for 26 hours)",
        operator: ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 26,
        missing: TreatMissingData.MISSING,
      },
    );
    nightClosed.addInsufficientDataAction(this.action);
    // The close publishes these once a night per chunk: the state holds until the next night says otherwise.
    this.alarm(
      'LedgerPendingOver12h',
      custom(METRIC.ledgerPendingOver12h, 'close-worker', 'Maximum', Duration.hours(1)),
      T.pendingOver12h,
      {
        description: 'ledger records have been pending over 12 hours: Stripe has not confirmed them',
        missing: TreatMissingData.IGNORE,
      },
    );
    this.alarm(
      'HoldsNearEscalation',
      custom(METRIC.holdsNearEscalation, 'close-worker', 'Maximum', Duration.hours(1)),
      T.holdsNearEscalation,
      {
        description: "held usage is within 7 days of its escalation deadline (Stripe's 35-day limit or the invoice)",
        missing: TreatMissingData.IGNORE,
      },
    );

    this.nightCheck = new Rule(this, 'NightClosedCheck', {
      description: "Asks the close-planner at 03:00 UTC whether last night's close completed (metric NightClosed)",
      schedule: Schedule.cron(NIGHT_CHECK.cron),
      targets: [
        new LambdaFunction(props.functions['close-planner'], {
          event: RuleTargetInput.fromObject(NIGHT_CHECK.event),
          retryAttempts: 2,
          maxEventAge: Duration.hours(1),
        }),
      ],
    });
    this.dashboard = this.makeDashboard(props);
  }

  private alarm(
    id: string,
    metric: IMetric,
    threshold: number,
    o: { description: string; operator?: ComparisonOperator; evaluationPeriods?: number; missing?: TreatMissingData },
  ): Alarm {
    const alarm = new Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods: o.evaluationPeriods ?? 1,
      datapointsToAlarm: 1,
      comparisonOperator: o.operator ?? ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: o.missing ?? TreatMissingData.NOT_BREACHING,
      alarmDescription: `${o.description}. Runbook: docs/operations.md`,
    });
    alarm.addAlarmAction(this.action);
    this.alarms.push(alarm);
    return alarm;
  }

  private makeDashboard(props: OpsAlarmsProps): Dashboard {
    const graph = (title: string, metrics: IMetric[]) => new GraphWidget({ title, left: metrics, width: 12 });
    const counts = (service: HandlerName, names: MetricName[]) => names.map((n) => custom(n, service, 'Sum', Duration.minutes(5)));
    const dashboard = new Dashboard(this, 'Dashboard');
    dashboard.addWidgets(new AlarmStatusWidget({ title: 'alarms', alarms: this.alarms, width: 24 }));
    dashboard.addWidgets(
      graph('ingest: events', counts('ingest', [METRIC.eventsAccepted, METRIC.eventsRejected, METRIC.eventsQuarantined])),
      graph(
        'consume: events',
        counts('consume', [METRIC.eventsCounted, METRIC.eventsDuplicate, METRIC.eventsQuarantined, METRIC.recordsFailed]),
      ),
    );
    dashboard.addWidgets(
      graph('UsageEvents', [
        props.eventQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum' }),
        props.eventQueue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum' }),
      ]),
      graph(
        'dead-letter queues',
        Object.values(props.dlqs).map((q) => q.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum' })),
      ),
    );
    const close = [METRIC.closeCustomers, METRIC.closeRecordsPlanned, METRIC.closeRecordsSent, METRIC.closeRecordsFailed];
    dashboard.addWidgets(
      graph('close: customers and records', counts('close-worker', [...close, METRIC.closeRecordsUnreportable, METRIC.closeHeldReports])),
      graph(
        'Stripe calls by outcome',
        counts('close-worker', [
          METRIC.stripeCallsOk,
          METRIC.stripeCallsDuplicate,
          METRIC.stripeCallsRateLimited,
          METRIC.stripeCallsTransient,
          METRIC.stripeCallsSessionExpired,
          METRIC.stripeCallsPermanent,
          METRIC.stripeRetries,
        ]),
      ),
    );
    dashboard.addWidgets(
      graph('holds, flags, pending', [
        ...counts('close-worker', [METRIC.flagsOpened]),
        custom(METRIC.holdsNearEscalation, 'close-worker', 'Maximum', Duration.hours(1)),
        custom(METRIC.ledgerPendingOver12h, 'close-worker', 'Maximum', Duration.hours(1)),
        custom(METRIC.nightClosed, 'close-planner', 'Minimum', Duration.hours(1)),
      ]),
      graph(
        'function errors',
        Object.values(props.functions).map((fn) => fn.metricErrors({ period: Duration.minutes(5) })),
      ),
    );
    return dashboard;
  }
}

/** A custom metric of the functions (functions/runtime/metrics.ts), by its name and the function that publishes it. */
function custom(name: MetricName, service: HandlerName, statistic: string, period: Duration): Metric {
  return new Metric({ namespace: METRICS_NAMESPACE, metricName: name, dimensionsMap: { service }, statistic, period });
}
