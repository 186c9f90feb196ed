import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../../api';
import { ErrorAlert, num } from '../finance/common';
import { BackToOperations } from './back';
import { useHealth } from './overview';

/**
 * `/operations/dlq`: the dead-letter queue's depth and a redrive back to the usage queue. A redrive
 * moves every message at once and is audited, so it asks to confirm first.
 */
export function DlqPage() {
  const queryClient = useQueryClient();
  const health = useHealth();
  const [confirming, setConfirming] = useState(false);
  const redrive = useMutation({
    mutationFn: () => api<{ moved: number }>('/v1/dlq/redrive', { method: 'POST' }),
    onSettled: () => {
      setConfirming(false);
      queryClient.invalidateQueries({ queryKey: ['health'] });
    },
  });
  const depth = health.data?.dlq;

  return (
    <section>
      <BackToOperations />
      <h1 id="dlq-heading">Dead-letter queue</h1>
      <ErrorAlert error={health.error} />
      {depth !== undefined && (
        <p>
          Messages waiting in the dead-letter queue: <strong className={depth > 0 ? 'difference' : undefined}>{num(depth)}</strong>
          {depth > 0 ? ' (they failed processing repeatedly and are not counted until redriven).' : '.'}
        </p>
      )}
      {!confirming ? (
        <button type="button" onClick={() => setConfirming(true)} disabled={redrive.isPending}>
          Redrive
        </button>
      ) : (
        <div className="confirm">
          <p id="dlq-confirm-text">Move every dead-lettered message back to the usage queue to be processed again?</p>
          <button type="button" aria-describedby="dlq-confirm-text" onClick={() => redrive.mutate()} disabled={redrive.isPending}>
            Confirm redrive
          </button>{' '}
          <button type="button" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </div>
      )}
      {redrive.isPending && <p role="status">Redriving…</p>}
      {redrive.data && !redrive.isPending && (
        <p role="status">
          Moved {num(redrive.data.moved)} {redrive.data.moved === 1 ? 'message' : 'messages'} back to the usage queue.
        </p>
      )}
      <ErrorAlert error={redrive.error} />
    </section>
  );
}
