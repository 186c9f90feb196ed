/** The volume-spike anomaly detector: pure, online, one global parameter set. */
export { createSpikeDetector, scoreSeries, scoreOf, severityOf, type SpikeDetector } from './spike-detector.js';
export { backtestCsv, type BacktestOptions } from './backtest.js';
export { SPIKE_THRESHOLD, SEVERITY_THRESHOLDS, SEVERITY_Z_MULTIPLES, productionTuning } from './constants.js';
export { scoreEvents, summarize, type EventMetrics, type EventScore, type LabelWindow } from './event-scoring.js';
export type { DetectorTuning, Direction, Granularity, Severity, SpikeDetectorOptions, SpikeResult, UsagePoint } from './types.js';
