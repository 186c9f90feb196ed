import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../contract/errors.js';
import { resolveStripeKey, resolveWebhookSecret } from '../../../../functions/adapters/aws/stripe-secret.js';
import { loadCloseConfig, loadStripeConfig, loadStripeWebhookConfig } from '../../../../functions/runtime/config.js';

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

  it('reads STRIPE_METER_MODE, v1 when unset or empty, and names it when it is neither mode', () => {
    const key = { STRIPE_SECRET_KEY: 'sk_test_x' };
    expect(loadStripeConfig(key).meterMode).toBe('v1');
    expect(loadStripeConfig({ ...key, STRIPE_METER_MODE: '' }).meterMode).toBe('v1');
    expect(loadStripeConfig({ ...key, STRIPE_METER_MODE: 'v2-stream' }).meterMode).toBe('v2-stream');
    expect(() => loadStripeConfig({ ...key, STRIPE_METER_MODE: 'v2' })).toThrow(/STRIPE_METER_MODE must be v1 or v2-stream/);
  });
});

describe('Stripe webhook signing secret', () => {
  it('is given (local) or read from Secrets Manager, trimmed; one that is not whsec_… is refused without echoing it', async () => {
    expect(await resolveWebhookSecret(loadStripeWebhookConfig({ STRIPE_WEBHOOK_SECRET: 'whsec_local' }))).toBe('whsec_local');
    const sm = mockClient(SecretsManagerClient);
    const arn = 'arn:aws:secretsmanager:eu-west-1:1:secret:serenity-metering/stripe-webhook';
    sm.on(GetSecretValueCommand, { SecretId: arn })
      .resolvesOnce({ SecretString: 'whsec_abc\n' })
      .resolvesOnce({ SecretString: 'placeholder-99' });
    const config = loadStripeWebhookConfig({ STRIPE_WEBHOOK_SECRET_ARN: arn });
    expect(await resolveWebhookSecret(config, new SecretsManagerClient({ region: 'eu-west-1' }))).toBe('whsec_abc');
    const err = await resolveWebhookSecret(config, new SecretsManagerClient({ region: 'eu-west-1' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(String((err as Error).message)).not.toContain('placeholder-99');
    sm.restore();
  });

  it('names the missing or malformed setting', () => {
    expect(() => loadStripeWebhookConfig({})).toThrow('STRIPE_WEBHOOK_SECRET is not set (nor STRIPE_WEBHOOK_SECRET_ARN)');
    expect(() => loadStripeWebhookConfig({ STRIPE_WEBHOOK_SECRET: 'sk_test_wrong' })).toThrow(
      /STRIPE_WEBHOOK_SECRET must be a Stripe webhook signing secret/,
    );
  });
});
