import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigError } from '../../../contract/errors.js';
import { STRIPE_KEY, STRIPE_WEBHOOK_SECRET, type StripeConfig, type StripeWebhookConfig } from '../../runtime/config.js';

/**
 * The Stripe key: given directly (local stack, tests), or read once from Secrets Manager, where the
 * deployed worker finds it. The secret holds the bare key (`sk_live_…`), never JSON.
 */
export async function resolveStripeKey(
  c: StripeConfig,
  client: Pick<SecretsManagerClient, 'send'> = new SecretsManagerClient({}),
): Promise<string> {
  if (c.secretKey) return c.secretKey;
  const out = await client.send(new GetSecretValueCommand({ SecretId: c.secretArn! }));
  const key = out.SecretString?.trim() ?? '';
  if (!STRIPE_KEY.test(key))
    throw new ConfigError(
      `the secret ${c.secretArn} does not hold a Stripe key (sk_… or rk_…); put one in with aws secretsmanager put-secret-value`,
    );
  return key;
}

/** The webhook signing secret: given directly (local stack, tests), or read once from Secrets Manager (the bare `whsec_…`). */
export async function resolveWebhookSecret(
  c: StripeWebhookConfig,
  client: Pick<SecretsManagerClient, 'send'> = new SecretsManagerClient({}),
): Promise<string> {
  if (c.secret) return c.secret;
  const out = await client.send(new GetSecretValueCommand({ SecretId: c.secretArn! }));
  const secret = out.SecretString?.trim() ?? '';
  if (!STRIPE_WEBHOOK_SECRET.test(secret))
    throw new ConfigError(
      `the secret ${c.secretArn} does not hold a Stripe webhook signing secret (whsec_…); put the endpoint's secret in with aws secretsmanager put-secret-value`,
    );
  return secret;
}
