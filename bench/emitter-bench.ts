/** Placeholder until the emitter lands; replaced by the emitter benchmark. */
export async function benchEmitter() {
  return { apiCallNs: NaN, mapNs: NaN, costRatio: NaN, calls: 0, minutes: 0, callsPerSecond: 0, customers: 0, events: 0, wcu: NaN, wcuPerApiCall: NaN };
}
