import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../contract/errors.js';
import { resolveStripeKey } from '../../../../functions/adapters/aws/stripe-secret.js';
import { loadCloseConfig, loadStripeConfig } from '../../../../functions/runtime/config.js';

describe('Stripe key resolution', () => {
  it('reads the key from Secrets Manager when only the ARN is configured', async () => {
    // Prepare
    const sm = mockClient(SecretsManagerClient);
    sm.on(GetSecretValueCommand, { SecretId: 'arn:aws:secretsmanager:eu-west-1:1:secret:serenity-metering/stripe' }).resolves({
      SecretString: 'sk_live_abc\n',
    });
    const config = loadStripeConfig({ STRIPE_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:serenity-metering/stripe' });
    // Act
    const key = await resolveStripeKey(config, new SecretsManagerClient({ region: 'eu-west-1' }));
    // Assess
    expect(key).toBe('sk_live_abc');
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    sm.restore();
  });

  it('refuses a secret that holds something other than a Stripe key, without echoing it', async () => {
    const sm = mockClient(SecretsManagerClient);
    sm.on(GetSecretValueCommand).resolves({ SecretString: 'placeholder-1234' });
    const config = loadStripeConfig({ STRIPE_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:s' });
    const err = await resolveStripeKey(config, new SecretsManagerClient({ region: 'eu-west-1' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(String((err as Error).message)).not.toContain('placeholder-1234');
    sm.restore();
  });

  it('names the missing variables and never echoes a malformed key', () => {
    expect(() => loadStripeConfig({})).toThrow('STRIPE_SECRET_KEY is not set (nor STRIPE_SECRET_ARN)');
    expect(() => loadStripeConfig({ STRIPE_SECRET_KEY: 'pk_live_oops' })).toThrow(/STRIPE_SECRET_KEY must be a Stripe secret/);
    expect(() => loadStripeConfig({ STRIPE_SECRET_KEY: 'pk_live_oops' })).not.toThrow(/pk_live_oops/);
    expect(() => loadCloseConfig({})).toThrow('CLOSE_QUEUE_URL is not set; CLOSE_DLQ_URL is not set');
  });
});
