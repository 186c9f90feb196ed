// The app shell: query client, session, the layout by role and the route table.
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { ApiError } from './api';
import { Layout } from './Layout';
import { SignInPage } from './pages/SignIn';
import { matchPath, navigate, useLocation } from './router';
import { SECTIONS } from './sections';
import { type AuthConfig, type Role, type Session, SessionProvider, useSessionState } from './session';

function makeClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 15_000,
        // A 4xx will not get better by asking again.
        retry: (count, err) => !(err instanceof ApiError && err.status < 500) && count < 2,
        refetchOnWindowFocus: false,
      },
    },
  });
}

export function App(props: { config: AuthConfig; initial?: Session; bootError?: string }) {
  const [client] = useState(makeClient);
  return (
    <QueryClientProvider client={client}>
      <SessionProvider config={props.config} initial={props.initial}>
        <Shell bootError={props.bootError} onSignOut={() => client.clear()} />
      </SessionProvider>
    </QueryClientProvider>
  );
}

function Shell(props: { bootError?: string; onSignOut: () => void }) {
  const { session } = useSessionState();
  const { path } = useLocation();
  const signedOut = !session;
  useEffect(() => {
    if (signedOut && path !== '/sign-in') navigate('/sign-in', { replace: true });
  }, [signedOut, path]);
  if (!session) return <SignInPage bootError={props.bootError} />;
  return (
    <Layout onSignOut={props.onSignOut}>
      <Routed role={session.role} path={path} />
    </Layout>
  );
}

function Routed(props: { role: Role; path: string }) {
  const { role, path } = props;
  const visible = SECTIONS.filter((s) => s.roles.includes(role));
  const landing = visible[0]?.to ?? '/';
  const redirect = path === '/' || path === '/sign-in' || path === '';
  useEffect(() => {
    if (redirect) navigate(landing, { replace: true });
  }, [redirect, landing]);
  if (redirect) return null;
  const section = SECTIONS.find((s) => path === s.prefix || path.startsWith(`${s.prefix}/`));
  if (section && !section.roles.includes(role)) {
    return (
      <div role="alert">
        <h1>Not available</h1>
        <p>Your role ({role}) cannot open this page.</p>
      </div>
    );
  }
  // The most specific pattern wins: literal segments before parameters ('/flags/expected-activity' before '/flags/:id').
  const candidates = (section?.routes ?? []).slice().sort((a, b) => specificity(b.path) - specificity(a.path));
  for (const r of candidates) {
    const params = matchPath(r.path, path);
    if (params) {
      const Page = r.component;
      return <Page key={path} params={params} />;
    }
  }
  return (
    <div>
      <h1>Page not found</h1>
      <p>There is no page at {path}.</p>
    </div>
  );
}

function specificity(pattern: string): number {
  return pattern
    .split('/')
    .filter(Boolean)
    .reduce((n, seg) => n + (seg.startsWith(':') ? 1 : 2), 0);
}
