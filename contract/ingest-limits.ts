/** Limits of one POST /v1/events request: ingest enforces them, and the emitter batches inside them. */
export const INGEST_LIMITS = { maxEvents: 1000, maxBytes: 1024 * 1024 } as const;
