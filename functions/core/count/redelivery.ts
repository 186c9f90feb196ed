/**
 * When a failed queue record comes back. A record that failed for a reason waiting can cure is hidden for
 * longer on each receive, so sustained throttling spends hours, not minutes, of the queue's receive count.
 */

/** The visibility to set on a record that failed transiently on its `receiveCount`-th receive (1-based). */
export function redeliveryDelaySeconds(receiveCount: number, delays: readonly number[]): number {
  const i = Math.min(Math.max(1, Math.floor(receiveCount)), delays.length) - 1;
  return delays[i]!;
}

/**
 * How long unbroken transient failure lasts before SQS moves a record to the DLQ: the sum of the delays over
 * the `maxReceiveCount` receives it gets (the time spent inside each invocation comes on top).
 */
export function transientRideOutSeconds(maxReceiveCount: number, delays: readonly number[]): number {
  let total = 0;
  for (let n = 1; n <= maxReceiveCount; n++) total += redeliveryDelaySeconds(n, delays);
  return total;
}
