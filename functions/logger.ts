import { Logger } from '@aws-lambda-powertools/logger';

/**
 * The structured JSON logger shared by every handler. Log customer and event ids, counts and reasons;
 * never a full IP address, a card number or an event payload.
 */
export const logger = new Logger({ serviceName: 'serenity-metering' });
