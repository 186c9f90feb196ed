import type { CustomerRecord, ErrorReport, MeterRecord, RecordedMeterEvent } from './types.js';

/** One minute in ms. */
export const MINUTE_MS = 60_000;
/** One day in ms. */
export const DAY_MS = 86_400_000;

/**
 * How long an accepted identifier blocks a second event. Stripe promises "at least 24 hours";
 * holding exactly 24 hours keeps the pipeline from leaning on a longer window than is promised.
 */
export const IDENTIFIER_WINDOW_MS = DAY_MS;

/** A meter event stream session, valid for 15 minutes. */
export interface StreamSession {
  id: string;
  token: string;
  createdMs: number;
  expiresAtMs: number;
}

/** Everything the fake Stripe account holds, in memory. */
export class StripeState {
  readonly customers = new Map<string, CustomerRecord>();
  readonly meters = new Map<string, MeterRecord>();
  readonly events: RecordedMeterEvent[] = [];
  readonly errorReports: ErrorReport[] = [];
  readonly sessions = new Map<string, StreamSession>();
  /** Latest accepted event per identifier; identifiers are unique account-wide, not per meter. */
  private readonly byIdentifier = new Map<string, RecordedMeterEvent>();
  private seq = 0;

  /** The meter owning an event name, active or not. */
  meterForEventName(eventName: string): MeterRecord | undefined {
    for (const meter of this.meters.values()) if (meter.eventName === eventName) return meter;
    return undefined;
  }

  /** The accepted event still holding `identifier` at `nowMs`, if any. */
  heldIdentifier(identifier: string, nowMs: number): RecordedMeterEvent | undefined {
    const event = this.byIdentifier.get(identifier);
    return event && nowMs - event.receivedAtMs < IDENTIFIER_WINDOW_MS ? event : undefined;
  }

  /** The most recent accepted event sent with `identifier`, however old. */
  lastEventWithIdentifier(identifier: string): RecordedMeterEvent | undefined {
    return this.byIdentifier.get(identifier);
  }

  /** Stores an accepted event. */
  recordEvent(event: Omit<RecordedMeterEvent, 'seq'>): RecordedMeterEvent {
    const stored: RecordedMeterEvent = { ...event, seq: ++this.seq };
    this.events.push(stored);
    this.byIdentifier.set(stored.identifier, stored);
    return stored;
  }

  /** Stores an error report for an event rejected after it was accepted over HTTP. */
  recordErrorReport(report: Omit<ErrorReport, 'seq'>): ErrorReport {
    const stored: ErrorReport = { ...report, seq: ++this.seq };
    this.errorReports.push(stored);
    return stored;
  }

  /** Forgets every object, as if a fresh test account. */
  reset(): void {
    this.customers.clear();
    this.meters.clear();
    this.events.length = 0;
    this.errorReports.length = 0;
    this.sessions.clear();
    this.byIdentifier.clear();
  }
}
