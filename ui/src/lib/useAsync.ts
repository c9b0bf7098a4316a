// Loads data for a view, cancelling the request when the inputs change or the view unmounts.
import { useEffect, useState } from 'react';

export type AsyncState<T> =
  | { status: 'idle' | 'loading'; data?: undefined; error?: undefined }
  | { status: 'done'; data: T; error?: undefined }
  | { status: 'error'; data?: undefined; error: Error & { status?: number; notAvailable?: boolean } };

export function useAsync<T>(load: ((signal: AbortSignal) => Promise<T>) | null, deps: unknown[]): AsyncState<T> {
  const [state, setState] = useState<AsyncState<T>>({ status: 'idle' });
  useEffect(() => {
    if (!load) {
      setState({ status: 'idle' });
      return;
    }
    const ctl = new AbortController();
    setState({ status: 'loading' });
    load(ctl.signal).then(
      (data) => !ctl.signal.aborted && setState({ status: 'done', data }),
      (error: Error) => !ctl.signal.aborted && setState({ status: 'error', error }),
    );
    return () => ctl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return state;
}
