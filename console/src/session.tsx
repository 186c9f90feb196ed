// Who is signed in. Locally the bridge keeps a cookie session (GET /console/session); deployed, a Cognito id token
// is sent as a bearer and /v1/me names the caller. Pages only ever see {principal, role}.
import { createContext, type ReactNode, useCallback, useContext, useEffect, useState } from 'react';
import { ApiError, api, csrfHeaders, setBearerToken, setCsrfToken, setUnauthorizedHandler } from './api';
import { type CognitoConfig, completeSignIn, signOutUrl } from './cognito';

export type Role = 'finance' | 'analyst' | 'admin';
export type AuthConfig = { auth: 'local' } | CognitoConfig;

export interface Session {
  principal: string;
  role: Role;
}

interface SessionState {
  config: AuthConfig;
  session?: Session;
  setSession: (s: Session | undefined) => void;
  refresh: () => Promise<void>;
  signOut: () => Promise<void>;
}

const Ctx = createContext<SessionState | undefined>(undefined);

export async function loadConfig(): Promise<AuthConfig> {
  // Locally the bridge answers /console/config.json; a static host may publish it at the root instead.
  for (const path of ['/console/config.json', '/config.json']) {
    try {
      const res = await fetch(path, { credentials: 'same-origin' });
      if (!res.ok) continue;
      const data = (await res.json()) as AuthConfig;
      if (data && (data.auth === 'local' || data.auth === 'cognito')) return data;
    } catch {
      // Not JSON (an SPA fallback page): try the next place.
    }
  }
  return { auth: 'local' };
}

async function fetchSession(config: AuthConfig): Promise<Session | undefined> {
  try {
    if (config.auth === 'local') {
      const s = await api<Session & { csrfToken: string }>('/console/session');
      setCsrfToken(s.csrfToken);
      return { principal: s.principal, role: s.role };
    }
    const token = await completeSignIn(config);
    if (!token) return undefined;
    setBearerToken(token);
    return await api<Session>('/v1/me');
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return undefined;
    throw err;
  }
}

export function SessionProvider(props: { config: AuthConfig; initial?: Session; children: ReactNode }) {
  const [session, setSession] = useState<Session | undefined>(props.initial);
  const config = props.config;
  const refresh = useCallback(async () => setSession(await fetchSession(config)), [config]);
  const signOut = useCallback(async () => {
    if (config.auth === 'local') {
      // The bridge checks the CSRF token on every cookie-carried mutation, so it is sent before it is forgotten.
      const headers = csrfHeaders();
      await fetch('/console/session', { method: 'DELETE', credentials: 'same-origin', headers }).catch(() => undefined);
    }
    setCsrfToken(undefined);
    setBearerToken(undefined);
    setSession(undefined);
    if (config.auth === 'cognito') window.location.assign(signOutUrl(config));
  }, [config]);
  useEffect(() => {
    setUnauthorizedHandler(() => setSession(undefined));
    return () => setUnauthorizedHandler(undefined);
  }, []);
  return <Ctx.Provider value={{ config, session, setSession, refresh, signOut }}>{props.children}</Ctx.Provider>;
}

export { fetchSession };

export function useSessionState(): SessionState {
  const s = useContext(Ctx);
  if (!s) throw new Error('useSessionState outside SessionProvider');
  return s;
}

/** The signed-in caller; only called inside the signed-in layout, where a session exists. */
export function useSession(): Session {
  const s = useSessionState().session;
  if (!s) throw new Error('useSession without a session');
  return s;
}
