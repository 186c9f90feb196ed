import { type ReactNode, useState } from 'react';
import { ApiError } from '../../api';
import { formatDateTime, formatNumber } from '../../format';
import './pages.css';

/**
 * Small pieces the Finance and Operations pages share: number and time formatting, the meters' names,
 * cursor paging, and showing an API error (field errors beside the field they name).
 */

export const METERS = ['api_calls', 'active_users', 'protected_files'] as const;
export type Meter = (typeof METERS)[number];

const METER_LABELS: Record<string, string> = {
  api_calls: 'API calls',
  active_users: 'Active users',
  protected_files: 'Protected files',
};

/** A meter's name for people; an unknown meter shows its id. */
export function meterLabel(meter: string): string {
  return METER_LABELS[meter] ?? meter;
}

/** An integer with thousands separators; null (not known) as a dash (the console's one number format). */
export const num = formatNumber;

/** An ISO time as `YYYY-MM-DD HH:MM UTC`: every time in the pipeline is UTC, so the console shows UTC too. */
export const utc = formatDateTime;

/** The calendar month before `now`, `YYYY-MM` (UTC): the period finance usually closes. */
export function previousMonth(now = new Date()): string {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  return d.toISOString().slice(0, 7);
}

/** Today's UTC day, `YYYY-MM-DD`. */
export function todayUtc(now = new Date()): string {
  return now.toISOString().slice(0, 10);
}

export const PERIOD_PATTERN = /^\d{4}-(0[1-9]|1[0-2])$/;

/** A path segment, encoded (customer ids and key hashes go into URLs). */
export function seg(value: string): string {
  return encodeURIComponent(value);
}

/** The message the API gave for one field, if it named that field. */
export function fieldMessage(error: unknown, field: string): string | undefined {
  if (!(error instanceof ApiError)) return undefined;
  return error.errors?.find((e) => e.field === field)?.message;
}

/** An error in role=alert: the API's message and any field errors not shown beside a field of this form. */
export function ErrorAlert(props: { error: unknown; shownFields?: string[] }) {
  const { error, shownFields = [] } = props;
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  const rest = error instanceof ApiError ? (error.errors ?? []).filter((e) => !shownFields.includes(e.field)) : [];
  return (
    <div role="alert" className="error">
      <p>{message}</p>
      {rest.length > 0 && (
        <ul>
          {rest.map((e) => (
            <li key={`${e.field}:${e.message}`}>
              <code>{e.field}</code>: {e.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** A field's error text, referenced from the input by `aria-describedby` so it is read with the field. */
export function FieldError(props: { id: string; error: unknown; field: string }) {
  const message = fieldMessage(props.error, props.field);
  if (!message) return null;
  return (
    <span id={props.id} className="field-error">
      {message}
    </span>
  );
}

/**
 * Cursor paging: the API's cursors are opaque and only go forwards, so going back means remembering
 * the cursors of the pages already seen. Changing `resetKey` (the filters) starts again at page one.
 */
export function useCursorPages(resetKey: string) {
  const [state, setState] = useState<{ key: string; stack: (string | undefined)[] }>({ key: resetKey, stack: [undefined] });
  const stack = state.key === resetKey ? state.stack : [undefined];
  return {
    cursor: stack[stack.length - 1],
    page: stack.length,
    next: (cursor: string) => setState({ key: resetKey, stack: [...stack, cursor] }),
    previous: () => setState({ key: resetKey, stack: stack.length > 1 ? stack.slice(0, -1) : stack }),
  };
}

/**
 * Previous page / Next page buttons for a list the API pages by cursor. The nav is named "Paging", a name
 * that no field shares, so looking a field up by its label finds only the field.
 */
export function Pager(props: { pages: ReturnType<typeof useCursorPages>; nextCursor?: string }) {
  const { pages, nextCursor } = props;
  if (pages.page === 1 && !nextCursor) return null;
  return (
    <nav className="pager" aria-label="Paging">
      <button type="button" onClick={pages.previous} disabled={pages.page === 1}>
        Previous page
      </button>
      <span>Page {pages.page}</span>
      <button type="button" onClick={() => nextCursor && pages.next(nextCursor)} disabled={!nextCursor}>
        Next page
      </button>
    </nav>
  );
}

/** A labelled text field with its API error beside it. */
export function TextField(props: {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  error?: unknown;
  field?: string;
  placeholder?: string;
  required?: boolean;
  pattern?: string;
  hint?: ReactNode;
}) {
  const errorId = `${props.id}-error`;
  const hasError = props.field !== undefined && fieldMessage(props.error, props.field) !== undefined;
  return (
    <div className="field">
      <label htmlFor={props.id}>{props.label}</label>
      <input
        id={props.id}
        type="text"
        value={props.value}
        placeholder={props.placeholder}
        required={props.required}
        pattern={props.pattern}
        aria-invalid={hasError || undefined}
        aria-describedby={hasError ? errorId : undefined}
        onChange={(e) => props.onChange(e.target.value)}
      />
      {props.hint}
      {props.field && <FieldError id={errorId} error={props.error} field={props.field} />}
    </div>
  );
}
