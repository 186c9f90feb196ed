import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../contract/errors.js';
import { StripeMeterReporter } from '../../../functions/adapters/stripe/stripe-meter-reporter.js';
import { CLOSE_QUEUE, STRIPE_SECRET } from '../../../functions/resources.js';
import { makeCloseServices } from '../../../functions/runtime/close-services.js';
import type { Services } from '../../../functions/runtime/services.js';

const ARN = 'arn:aws:secretsmanager:eu-west-1:1:secret:serenity-metering/stripe';
const ENV = {
  [CLOSE_QUEUE.env]: 'https://sqs.eu-west-1.amazonaws.com/1/close',
  [CLOSE_QUEUE.dlqEnv]: 'https://sqs.eu-west-1.amazonaws.com/1/close-dlq',
  [STRIPE_SECRET.env]: ARN,
  STRIPE_API_BASE: 'http://127.0.0.1:1',
};
// The close services read only the SQS client and the region from the pipeline's services.
const base = { clients: { sqs: new SQSClient({ region: 'eu-west-1' }) }, config: { region: 'eu-west-1' } } as unknown as Services;

const sm = mockClient(SecretsManagerClient);
afterEach(() => sm.reset());

describe('the close services: the Stripe reporter', () => {
  it('tries Secrets Manager again on the next chunk after one error, and keeps the reporter once built', async () => {
    // Prepare: one throttling error, then the key
    sm.on(GetSecretValueCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }))
      .resolves({ SecretString: 'sk_live_abc' });
    const s = makeCloseServices(base, { ...ENV });

    // Act
    const first = s.reporter();
    await expect(first).rejects.toThrow(/Rate exceeded/);
    const second = await s.reporter();
    const third = await s.reporter();

    // Assess
    expect(second).toBeInstanceOf(StripeMeterReporter);
    expect(third).toBe(second);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it("recovers once the key is put in after deploying (the README's flow): no cold start needed", async () => {
    // Prepare: the secret exists, empty, until an operator puts the key in
    let secret = '';
    sm.on(GetSecretValueCommand).callsFake(async () => ({ SecretString: secret }));
    const s = makeCloseServices(base, { ...ENV });

    // Act
    const before = s.reporter();
    await expect(before).rejects.toThrow(ConfigError);
    secret = 'sk_live_put_in_later';
    const after = await s.reporter();

    // Assess
    expect(after).toBeInstanceOf(StripeMeterReporter);
  });
});
