// Sign-in: an API key (locally, swapped by the bridge for a cookie session) or the company's Cognito hosted UI.
import { type FormEvent, useState } from 'react';
import { ApiError } from '../api';
import { startSignIn } from '../cognito';
import { useSessionState } from '../session';

export function SignInPage(props: { bootError?: string }) {
  const { config, refresh } = useSessionState();
  const [apiKey, setApiKey] = useState('');
  const [error, setError] = useState<string | undefined>(props.bootError);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(undefined);
    if (!apiKey.trim()) {
      setError('Enter an API key.');
      return;
    }
    setBusy(true);
    try {
      // Deliberately not through `api`: a 401 here is an answer to show, not a lapsed session.
      const res = await fetch('/console/session', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ apiKey: apiKey.trim() }),
      });
      if (!res.ok)
        throw new ApiError(res.status, res.status === 401 ? 'That key cannot sign in to the console.' : `Sign-in failed (${res.status}).`);
      setApiKey('');
      await refresh();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" className="sign-in">
      <h1>Sign in</h1>
      {config.auth === 'cognito' ? (
        <button type="button" onClick={() => void startSignIn(config).catch((err: Error) => setError(err.message))}>
          Sign in with your company account
        </button>
      ) : (
        <form onSubmit={submit} noValidate>
          <label htmlFor="api-key">API key</label>
          <input
            id="api-key"
            type="password"
            autoComplete="off"
            spellCheck={false}
            value={apiKey}
            onChange={(e) => setApiKey(e.target.value)}
          />
          <button type="submit" disabled={busy}>
            Sign in
          </button>
          <p className="hint">Use a finance, analyst or admin key, or the one-time sign-in link printed by the local stack.</p>
        </form>
      )}
      {error && <p role="alert">{error}</p>}
    </main>
  );
}
