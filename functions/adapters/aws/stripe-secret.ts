import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigError } from '../../../contract/errors.js';
import { STRIPE_KEY, STRIPE_WEBHOOK_SECRET, type StripeConfig, type StripeWebhookConfig } from '../../runtime/config.js';

type Secrets = Pick<SecretsManagerClient, 'send'>;

/** A bare secret read once from Secrets Manager and checked against `pattern`; `what` and `hint` word the ConfigError. */
async function readSecret(client: Secrets, arn: string, pattern: RegExp, what: string, hint: string): Promise<string> {
  const out = await client.send(new GetSecretValueCommand({ SecretId: arn }));
  const value = out.SecretString?.trim() ?? '';
  if (!pattern.test(value))
    throw new ConfigError(`the secret ${arn} does not hold ${what}; ${hint} with aws secretsmanager put-secret-value`);
  return value;
}

/**
 * The Stripe key: given directly (local stack, tests), or read once from Secrets Manager, where the
 * deployed worker finds it. The secret holds the bare key (`sk_live_…`), never JSON.
 */
export async function resolveStripeKey(c: StripeConfig, client: Secrets = new SecretsManagerClient({})): Promise<string> {
  if (c.secretKey) return c.secretKey;
  return readSecret(client, c.secretArn!, STRIPE_KEY, 'a Stripe key (sk_… or rk_…)', 'put one in');
}

/** The webhook signing secret: given directly (local stack, tests), or read once from Secrets Manager (the bare `whsec_…`). */
export async function resolveWebhookSecret(c: StripeWebhookConfig, client: Secrets = new SecretsManagerClient({})): Promise<string> {
  if (c.secret) return c.secret;
  return readSecret(
    client,
    c.secretArn!,
    STRIPE_WEBHOOK_SECRET,
    'a Stripe webhook signing secret (whsec_…)',
    "put the endpoint's secret in",
  );
}
