import { useState } from 'react';
import { FieldError, fieldMessage, PERIOD_PATTERN } from './common';

/**
 * The Period field (`YYYY-MM`). It keeps what is typed and hands a period on only once it is a whole
 * month, so a half-typed value never asks the API for a page it would answer with a 400.
 */
export function PeriodInput(props: { id: string; value: string; onChange: (period: string) => void; error?: unknown; optional?: boolean }) {
  const [draft, setDraft] = useState(props.value);
  const [seen, setSeen] = useState(props.value);
  // Follow a value changed from outside (a link to another period) without losing what is being typed.
  if (props.value !== seen) {
    setSeen(props.value);
    setDraft(props.value);
  }
  const errorId = `${props.id}-error`;
  const incomplete = draft !== '' && !PERIOD_PATTERN.test(draft);
  const apiError = fieldMessage(props.error, 'period') !== undefined;
  return (
    <div className="field">
      <label htmlFor={props.id}>Period</label>
      <input
        id={props.id}
        type="text"
        inputMode="numeric"
        placeholder="YYYY-MM"
        value={draft}
        aria-invalid={incomplete || apiError || undefined}
        aria-describedby={`${props.id}-hint${apiError ? ` ${errorId}` : ''}`}
        onChange={(e) => {
          const next = e.target.value.trim();
          setDraft(next);
          if (PERIOD_PATTERN.test(next) || (props.optional && next === '')) {
            setSeen(next);
            props.onChange(next);
          }
        }}
      />
      <span id={`${props.id}-hint`} className="hint">
        {incomplete ? 'A month as YYYY-MM, e.g. 2026-03' : props.optional ? 'YYYY-MM, or empty for all' : 'YYYY-MM'}
      </span>
      <FieldError id={errorId} error={props.error} field="period" />
    </div>
  );
}
