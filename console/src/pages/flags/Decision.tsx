// Confirm or dismiss, always with a note: the note is what finance and the customer's account manager read later.
import { type FormEvent, useState } from 'react';
import { api, errorText } from '../../api';
import { afterDecision, nextFlagAfter } from './next-flag';
import type { FlagDetail } from './types';

export function Decision(props: { flag: FlagDetail; onDecided: () => void }) {
  const [note, setNote] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  async function decide(decision: 'confirm' | 'dismiss') {
    if (!note.trim()) {
      setError('A note is required: say why.');
      return;
    }
    setError(undefined);
    setBusy(true);
    try {
      await api(`/v1/flags/${encodeURIComponent(props.flag.id)}/review`, { method: 'POST', body: { decision, note: note.trim() } });
      props.onDecided();
      const done = `Flag ${props.flag.id} ${decision === 'confirm' ? 'confirmed' : 'dismissed'}.`;
      let next: string | undefined;
      try {
        next = await nextFlagAfter(props.flag.id);
      } catch {
        // The decision stands; without the queue we simply go back to it.
      }
      afterDecision(next, next ? done : `${done} No more open flags in this queue.`);
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  }

  const submit = (e: FormEvent) => e.preventDefault();
  return (
    <section aria-labelledby="decision-heading">
      <h2 id="decision-heading">Decision</h2>
      <form onSubmit={submit} noValidate>
        <label htmlFor="decision-note">Note</label>
        <textarea id="decision-note" required aria-required="true" value={note} onChange={(e) => setNote(e.target.value)} />
        {error && <p role="alert">{error}</p>}
        <div className="actions">
          <button type="button" disabled={busy} onClick={() => void decide('confirm')}>
            Confirm
          </button>
          <button type="button" disabled={busy} onClick={() => void decide('dismiss')}>
            Dismiss
          </button>
        </div>
      </form>
    </section>
  );
}
