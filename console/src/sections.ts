// The console's sections: who sees each, where it lands, and its pages. The nav and the route table both read this.
import type { ComponentType } from 'react';
import { routes as financeRoutes } from './pages/finance/routes';
import { routes as flagRoutes } from './pages/flags/routes';
import { routes as operationsRoutes } from './pages/operations/routes';
import type { Role } from './session';

export type PageRoute = { path: string; component: ComponentType<{ params: Record<string, string> }> };

/** Each section, the roles that see it and its landing page; the order is the nav's and the landing preference. */
export const SECTIONS: { label: string; to: string; prefix: string; roles: Role[]; routes: PageRoute[] }[] = [
  { label: 'Flags', to: '/flags', prefix: '/flags', roles: ['analyst', 'admin'], routes: flagRoutes },
  { label: 'Finance', to: '/finance', prefix: '/finance', roles: ['finance', 'admin'], routes: financeRoutes },
  { label: 'Operations', to: '/operations', prefix: '/operations', roles: ['admin'], routes: operationsRoutes },
];
