// The page is the URL's hash: #trunks, #ladder/CA123...
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  page: string;
  arg: string;
}

export function parseHash(hash: string): Route {
  const [page = '', ...rest] = hash.replace(/^#/, '').split('/');
  return { page, arg: decodeURIComponent(rest.join('/')) };
}

export function useRoute(): Route {
  const [r, setR] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = (): void => setR(parseHash(location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return r;
}

export const go = (page: string, arg?: string): void => {
  location.hash = arg === undefined ? `#${page}` : `#${page}/${encodeURIComponent(arg)}`;
};
