/**
 * Fraud detection, pure: six named rules run per customer by the nightly close, the flag model,
 * deduplication, review transitions, billing holds, and synthetic scenarios for evaluation.
 */
export { detectFraud, RULES } from './detect-fraud.js';
export { validateFraudInput } from './fraud-input.js';
export { peerStatsFrom, type PeerAccount, type PeerDay, type PeerStatsOptions } from './peer-stats.js';
export { mergeFlags, flagId, openFlag, type MergeResult } from './merge-flags.js';
export { reviewFlag, FlagAlreadyReviewedError, MAX_NOTE_LENGTH, type FlagReview } from './review-flag.js';
export { holdsFromFlags, holdEscalations, DEFAULT_HOLD_POLICY, type HoldPolicy, type HoldEscalation } from './holds.js';
export { scoreOfStrength, severityOfScore } from './scoring.js';
export { accountAgeDays, comparableValue } from './rules/new-account-surge.js';
export * as FRAUD_PARAMETERS from './constants.js';
export { generateScenario, planInjections, type GroundTruth, type InjectionPlan, type InjectionRequest, type Scenario, type ScenarioOptions, type SyntheticCustomer } from './synthetic.js';
export * from './types.js';
