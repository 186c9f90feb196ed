import { type MouseEvent, useState } from 'react';
import { api, apiUrl } from '../../api';
import { useSessionState } from '../../session';
import { ErrorAlert, seg } from './common';

/**
 * **Download CSV**: a plain link to the API's CSV, which the browser downloads with the session cookie
 * (local). Deployed, the API wants the Cognito token in a header a link cannot carry, so there the click
 * fetches the CSV through `api()` and saves the very bytes it got.
 */
export function CsvDownload(props: { customer: string; period: string }) {
  const { config } = useSessionState();
  const [error, setError] = useState<unknown>(null);
  const path = `/v1/statements/${seg(props.customer)}`;
  const query = { period: props.period, format: 'csv' };
  const filename = `statement-${props.customer}-${props.period}.csv`;
  const onClick =
    config.auth === 'cognito'
      ? async (e: MouseEvent<HTMLAnchorElement>) => {
          e.preventDefault();
          setError(null);
          try {
            const csv = await api<string>(path, { query });
            const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv;charset=utf-8' }));
            const a = document.createElement('a');
            a.href = url;
            a.download = filename;
            a.click();
            setTimeout(() => URL.revokeObjectURL(url), 0);
          } catch (err) {
            setError(err);
          }
        }
      : undefined;
  return (
    <>
      <a href={apiUrl(path, query)} download={filename} onClick={onClick}>
        Download CSV
      </a>
      <ErrorAlert error={error} />
    </>
  );
}
