/** The three things Serenity bills for. A closed union: switch on it with an exhaustiveness check. */
export type Meter = 'api_calls' | 'active_users' | 'protected_files';

export const METERS: readonly Meter[] = ['api_calls', 'active_users', 'protected_files'];

/** CloudEvents `type` values of contract v1. */
export type EventType =
  | 'com.serenity.api.call'
  | 'com.serenity.user.active'
  | 'com.serenity.file.protected'
  | 'com.serenity.file.unprotected';

export const EVENT_TYPES: readonly EventType[] = [
  'com.serenity.api.call',
  'com.serenity.user.active',
  'com.serenity.file.protected',
  'com.serenity.file.unprotected',
];

/** Which meter an event type feeds. */
export function meterOf(type: EventType): Meter {
  switch (type) {
    case 'com.serenity.api.call':
      return 'api_calls';
    case 'com.serenity.user.active':
      return 'active_users';
    case 'com.serenity.file.protected':
    case 'com.serenity.file.unprotected':
      return 'protected_files';
    default:
      return assertNever(type);
  }
}

/** Compile-time exhaustiveness check for closed unions. */
export function assertNever(value: never): never {
  throw new Error(`unhandled case: ${String(value)}`);
}
