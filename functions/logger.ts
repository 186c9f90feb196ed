import { Logger } from '@aws-lambda-powertools/logger';
import { SERVICE_NAME } from './resources.js';

/**
 * The structured JSON logger shared by every handler. Log customer and event ids, counts and reasons;
 * never a full IP address, a card number or an event payload.
 */
export const logger = new Logger({ serviceName: SERVICE_NAME });
