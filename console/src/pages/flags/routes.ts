import type { ComponentType } from 'react';
import { ExpectedActivityPage } from './ExpectedActivityPage';
import { FlagPage } from './FlagPage';
import { QueuePage } from './QueuePage';

/** The fraud analysts' pages (analyst and admin). '/flags/expected-activity' outranks '/flags/:id' in the route table. */
export const routes: { path: string; component: ComponentType<{ params: Record<string, string> }> }[] = [
  { path: '/flags', component: QueuePage },
  { path: '/flags/expected-activity', component: ExpectedActivityPage },
  { path: '/flags/:id', component: FlagPage },
];
