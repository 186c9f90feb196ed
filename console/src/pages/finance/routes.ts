import type { ComponentType } from 'react';
import { LedgerPage } from './ledger';
import { PeriodClosePage } from './period-close';
import { ReconcilePage } from './reconcile';
import { StatementPage } from './statement';

/** The Finance pages, for the app's route table (finance and admin see them). */
export const routes: { path: string; component: ComponentType<{ params: Record<string, string> }> }[] = [
  { path: '/finance', component: PeriodClosePage },
  { path: '/finance/statement/:customer', component: StatementPage },
  { path: '/finance/reconcile', component: ReconcilePage },
  { path: '/finance/ledger/:customer', component: LedgerPage },
];
