import { DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import { SQSServiceException } from '@aws-sdk/client-sqs';
import type { AwsClientPlugin } from '../../functions/adapters/aws/aws-clients.js';
import type { FunctionPolicy } from './function-policies.js';
import { type AccessRequest, evaluate } from './policy.js';
import { type LocalArns, requestAccess } from './request-access.js';

/**
 * An SDK plugin that makes a real client act as one function's role: each call is mapped to the IAM
 * actions and resources it needs, and one not granted is refused before it is sent, as AWS refuses it.
 * Granted calls go on, unchanged, to DynamoDB Local or local-aws-sqs.
 * @example makeAwsClients({ ..., plugins: [enforceIam(policies.consume, arns)] });
 */
export function enforceIam(policy: FunctionPolicy, arns: LocalArns): AwsClientPlugin {
  return {
    applyToStack(stack) {
      stack.add(
        (next, context) => async (args) => {
          const clientName = String(context.clientName ?? '');
          const operation = String(context.commandName ?? '').replace(/Command$/, '');
          for (const request of requestAccess(clientName, operation, args.input as Record<string, unknown>, arns)) {
            const decision = evaluate(policy.statements, request);
            if (decision !== 'allow') throw accessDenied(clientName, policy, request, decision);
          }
          return next(args);
        },
        // Before the retry middleware (finalizeRequest): AWS's AccessDenied is not retryable either.
        { step: 'build', priority: 'high', name: 'localIamEnforcement', override: true },
      );
    },
  };
}

/** The error AWS returns, shaped as the SDK would raise it for this client. */
export function accessDenied(
  clientName: string,
  policy: FunctionPolicy,
  request: AccessRequest,
  decision: 'explicit-deny' | 'implicit-deny',
): Error {
  const why =
    decision === 'explicit-deny'
      ? `with an explicit deny in an identity-based policy`
      : `because no identity-based policy allows the ${request.action} action`;
  const message = `User: ${policy.principal} is not authorized to perform: ${request.action} on resource: ${request.resource} ${why}`;
  if (clientName.startsWith('DynamoDB')) {
    const e = new DynamoDBServiceException({
      name: 'AccessDeniedException',
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
      message,
    });
    return Object.assign(e, { __type: 'com.amazonaws.dynamodb.v20120810#AccessDeniedException' });
  }
  if (clientName.startsWith('SQS')) {
    const e = new SQSServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 }, message });
    return Object.assign(e, { __type: 'AccessDenied', Code: 'AccessDenied' });
  }
  return Object.assign(new Error(message), {
    name: 'AccessDeniedException',
    __type: 'AccessDeniedException',
    $fault: 'client',
    $metadata: { httpStatusCode: 403 },
  });
}
