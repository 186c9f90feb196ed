import { Logger } from '@aws-lambda-powertools/logger';
import type { LogAttributes } from '@aws-lambda-powertools/logger/types';
import type { Log } from '../core/shared/ports.js';
import { SERVICE_NAME } from '../resources.js';

/**
 * The structured JSON logger shared by every handler. Log customer and event ids, counts and reasons;
 * never a full IP address, a card number or an event payload. On AWS each line carries `function`, the
 * handler's one name (`METER_FUNCTION`, set by the CDK construct); the local stack runs them all in one process.
 */
export const logger = new Logger({
  serviceName: SERVICE_NAME,
  ...(process.env.METER_FUNCTION ? { persistentKeys: { function: process.env.METER_FUNCTION } } : {}),
});

/** The logger as the core's `Log` port. */
export const log: Log = {
  info: (message, fields = {}) => logger.info(message, fields as LogAttributes),
  warn: (message, fields = {}) => logger.warn(message, fields as LogAttributes),
  error: (message, fields = {}) => logger.error(message, fields as LogAttributes),
};
