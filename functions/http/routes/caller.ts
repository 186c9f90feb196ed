import type { Services } from '../../runtime/services.js';
import { authorize } from '../auth.js';
import { json } from '../responses.js';
import type { Route } from '../router.js';

/**
 * GET /v1/me: who the credential belongs to, so the deployed console (a Cognito token, no local session)
 * can show the signed-in person and the sections of their role. Ingest keys are refused: they never sign in.
 */
export const getMe: Route<Services> = async ({ event }, s) => {
  const caller = await authorize(event, s, ['finance', 'analyst', 'admin']);
  return json(200, { principal: caller.principal, role: caller.role });
};
