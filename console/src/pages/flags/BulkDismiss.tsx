// "Dismiss selected": one note for every selected flag; each is dismissed on its own by the API.
import { type FormEvent, useState } from 'react';

export function BulkDismiss(props: { count: number; pending: boolean; onDismiss: (note: string) => Promise<void> }) {
  const [open, setOpen] = useState(false);
  const [note, setNote] = useState('');
  const [error, setError] = useState<string | undefined>();

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!note.trim()) {
      setError('A note is required: say why these flags are dismissed.');
      return;
    }
    setError(undefined);
    try {
      await props.onDismiss(note.trim());
      setNote('');
      setOpen(false);
    } catch {
      // The queue shows the request's error; keep the form and its note for another try.
    }
  }

  if (!open)
    return (
      <div className="bulk">
        <button type="button" disabled={props.count === 0} onClick={() => setOpen(true)}>
          Dismiss selected
        </button>{' '}
        <span>{props.count} selected</span>
      </div>
    );
  return (
    <form className="bulk" onSubmit={submit} noValidate>
      <p>
        Dismiss {props.count} flag{props.count === 1 ? '' : 's'}: held usage is released at the next close.
      </p>
      <label htmlFor="bulk-note">Note</label>
      <textarea id="bulk-note" required value={note} onChange={(e) => setNote(e.target.value)} />
      {error && <p role="alert">{error}</p>}
      <button type="submit" disabled={props.pending || props.count === 0}>
        Dismiss flags
      </button>{' '}
      <button type="button" onClick={() => setOpen(false)}>
        Cancel
      </button>
    </form>
  );
}
