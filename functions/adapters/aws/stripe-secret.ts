import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigError } from '../../../contract/errors.js';
import { STRIPE_KEY, type StripeConfig } from '../../runtime/config.js';

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
