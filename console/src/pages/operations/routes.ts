import type { ComponentType } from 'react';
import { AuditPage } from './audit';
import { DlqPage } from './dlq';
import { KeysPage } from './keys';
import { OperationsPage } from './overview';
import { QuarantinePage } from './quarantine';

/** The Operations pages, for the app's route table (admin only). */
export const routes: { path: string; component: ComponentType<{ params: Record<string, string> }> }[] = [
  { path: '/operations', component: OperationsPage },
  { path: '/operations/quarantine', component: QuarantinePage },
  { path: '/operations/dlq', component: DlqPage },
  { path: '/operations/audit', component: AuditPage },
  { path: '/operations/keys', component: KeysPage },
];
