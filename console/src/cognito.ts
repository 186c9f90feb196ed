// Cognito hosted-UI sign-in: the authorization-code grant with PKCE (S256), for a public client with no secret.
// The verifier and state live in sessionStorage only for the round trip; the id token lives in sessionStorage so a
// reload keeps the session but closing the tab ends it.

export interface CognitoConfig {
  auth: 'cognito';
  region: string;
  userPoolId: string;
  clientId: string;
  /** The hosted UI's base URL (`https://prefix.auth.region.amazoncognito.com`) or only its prefix. */
  domain: string;
}

const PENDING = 'meter.pkce';
const TOKEN = 'meter.idToken';

function base(config: CognitoConfig): string {
  if (/^https?:\/\//.test(config.domain)) return config.domain.replace(/\/$/, '');
  if (config.domain.includes('.')) return `https://${config.domain}`;
  return `https://${config.domain}.auth.${config.region}.amazoncognito.com`;
}

// The app client registers exactly `${origin}/` as its callback and sign-out URL.
function redirectUri(): string {
  return `${window.location.origin}/`;
}

function base64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

export async function startSignIn(config: CognitoConfig): Promise<void> {
  const verifier = randomString(48);
  const state = randomString(16);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state }));
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: config.clientId,
    redirect_uri: redirectUri(),
    scope: 'openid email profile',
    state,
    code_challenge: base64url(digest),
    code_challenge_method: 'S256',
  });
  window.location.assign(`${base(config)}/oauth2/authorize?${q}`);
}

/**
 * On return from the hosted UI (`/?code=…&state=…`), exchanges the code for tokens and cleans the URL.
 * Returns the id token (new or stored and unexpired) or undefined when the user must sign in.
 */
export async function completeSignIn(config: CognitoConfig): Promise<string | undefined> {
  const url = new URL(window.location.href);
  const code = url.searchParams.get('code');
  const state = url.searchParams.get('state');
  if (code && state) {
    const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null') as { verifier: string; state: string } | null;
    sessionStorage.removeItem(PENDING);
    window.history.replaceState(null, '', '/');
    // A state we did not issue is a forged or replayed redirect: ignore the code.
    if (!pending || pending.state !== state) throw new Error('Sign-in was not started from this tab; try again.');
    const res = await fetch(`${base(config)}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: config.clientId,
        code,
        redirect_uri: redirectUri(),
        code_verifier: pending.verifier,
      }),
    });
    if (!res.ok) throw new Error(`Sign-in failed (${res.status}); try again.`);
    const tokens = (await res.json()) as { id_token?: string };
    if (!tokens.id_token) throw new Error('Sign-in returned no id token.');
    sessionStorage.setItem(TOKEN, tokens.id_token);
    return tokens.id_token;
  }
  const stored = sessionStorage.getItem(TOKEN);
  if (stored && !expired(stored)) return stored;
  sessionStorage.removeItem(TOKEN);
  return undefined;
}

function expired(jwt: string): boolean {
  try {
    const payload = JSON.parse(atob((jwt.split('.')[1] ?? '').replace(/-/g, '+').replace(/_/g, '/'))) as {
      exp?: number;
    };
    // A minute's margin so a request does not leave with a token that lapses in flight.
    return !payload.exp || payload.exp * 1000 < Date.now() + 60_000;
  } catch {
    return true;
  }
}

export function signOutUrl(config: CognitoConfig): string {
  sessionStorage.removeItem(TOKEN);
  const q = new URLSearchParams({ client_id: config.clientId, logout_uri: redirectUri() });
  return `${base(config)}/logout?${q}`;
}
