import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { fetchSession, loadConfig } from './session';
import './styles.css';

// The config and any existing session are read before the first render, so a signed-in user never sees the sign-in page flash.
async function boot(): Promise<void> {
  const root = createRoot(document.getElementById('root') as HTMLElement);
  const config = await loadConfig();
  let initial: Awaited<ReturnType<typeof fetchSession>>;
  let bootError: string | undefined;
  try {
    initial = await fetchSession(config);
  } catch (err) {
    bootError = err instanceof Error ? err.message : String(err);
  }
  root.render(
    <StrictMode>
      <App config={config} initial={initial} bootError={bootError} />
    </StrictMode>,
  );
}

void boot();
