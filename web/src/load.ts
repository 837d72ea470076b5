// A page's data: fetched on mount (and on reload()), errors to the banner,
// and document.body.dataset.ready = the page's name once the first load has
// finished and been drawn (tests wait on it; a page left before then does
// not claim it).
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { errorText } from './api';
import { showError } from './store';

export function useLoad<T>(
  page: string,
  fetcher: () => Promise<T>,
  deps: readonly unknown[] = [],
): { data: T | undefined; reload: () => Promise<void> } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [loaded, setLoaded] = useState(false);
  const alive = useRef(true);
  const generation = useRef(0);
  // The fetcher is the page's; `deps` name what it reads (a new one refetches).
  const reload = useCallback(async () => {
    const g = ++generation.current;
    try {
      const d = await fetcher();
      if (alive.current && g === generation.current) setData(d);
    } catch (err) {
      if (alive.current) showError(errorText(err));
    }
  }, deps);
  useEffect(() => {
    alive.current = true;
    setLoaded(false);
    delete document.body.dataset.ready;
    void reload().then(() => {
      if (alive.current) setLoaded(true);
    });
    return () => {
      alive.current = false;
    };
  }, [reload, page]);
  // After the DOM holds the first data.
  useLayoutEffect(() => {
    if (loaded) document.body.dataset.ready = page;
  }, [loaded, page]);
  return { data, reload };
}

/** Runs an action of the page (a button, a form): clears the banner, shows its error there. */
export async function act(fn: () => Promise<unknown>): Promise<boolean> {
  showError('');
  try {
    await fn();
    return true;
  } catch (err) {
    showError(errorText(err));
    return false;
  }
}
