import type { ReactNode } from 'react';
import { Link, useLocation } from './router';
import { SECTIONS } from './sections';
import { useSession, useSessionState } from './session';

export function Layout(props: { children: ReactNode; onSignOut: () => void }) {
  const { principal, role } = useSession();
  const { signOut } = useSessionState();
  const { path } = useLocation();
  const visible = SECTIONS.filter((s) => s.roles.includes(role));
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="app-header">
        <span className="product">Serenity Metering</span>
        <nav aria-label="Main">
          <ul className="nav-links">
            {visible.map((s) => {
              const current = path === s.prefix || path.startsWith(`${s.prefix}/`);
              return (
                <li key={s.to}>
                  <Link to={s.to} className={current ? 'current' : undefined} aria-current={current ? 'page' : undefined}>
                    {s.label}
                  </Link>
                </li>
              );
            })}
          </ul>
        </nav>
        <span className="who">
          {principal} <span className="role">({role})</span>
        </span>
        <button
          type="button"
          onClick={() => {
            props.onSignOut();
            void signOut();
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {props.children}
      </main>
    </>
  );
}
