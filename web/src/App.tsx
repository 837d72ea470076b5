// The shell: header with the pages, the error banner, the current page.
// Logged out (no token, or the server refused it) it shows the login page.
import { useEffect, useState } from 'preact/hooks';
import { getToken, setToken, whenUnauthorized } from './api';
import { Bans } from './pages/Bans';
import { Calls } from './pages/Calls';
import { Cdrs } from './pages/Cdrs';
import { Cluster } from './pages/Cluster';
import { Dashboard } from './pages/Dashboard';
import { Ladder } from './pages/Ladder';
import { Login } from './pages/Login';
import { Quality } from './pages/Quality';
import { ResourcePageView } from './pages/ResourcePage';
import { RESOURCE_PAGES } from './resources';
import { go, useRoute } from './route';
import { errorCell, follow, showError, unfollow, useCell } from './store';

const NAV: Array<[page: string, title: string]> = [
  ['dashboard', 'Dashboard'],
  ['calls', 'Live calls'],
  ['cdrs', 'CDRs'],
  ['bans', 'Bans'],
  ['quality', 'Quality'],
  ['cluster', 'Cluster'],
  ...RESOURCE_PAGES.map((p): [string, string] => [p.name, p.title]),
];

export function App() {
  const [logged, setLogged] = useState(getToken() !== null);
  const route = useRoute();
  const error = useCell(errorCell);
  useEffect(() => {
    whenUnauthorized(() => {
      setToken(null);
      unfollow();
      setLogged(false);
    });
  }, []);
  useEffect(() => {
    if (logged) follow();
  }, [logged]);
  // A new page starts without the last page's error.
  useEffect(() => showError(''), [route.page, route.arg]);

  const logout = (): void => {
    setToken(null);
    unfollow();
    setLogged(false);
    location.hash = '';
  };
  const page = route.page === '' ? 'dashboard' : route.page;
  const resource = RESOURCE_PAGES.find((p) => p.name === page);
  let body;
  if (!logged)
    body = (
      <Login
        onLogin={() => {
          setLogged(true);
          if (route.page === '') go('dashboard');
        }}
      />
    );
  else if (page === 'dashboard') body = <Dashboard />;
  else if (page === 'calls') body = <Calls />;
  else if (page === 'cdrs') body = <Cdrs />;
  else if (page === 'bans') body = <Bans />;
  else if (page === 'quality') body = <Quality />;
  else if (page === 'cluster') body = <Cluster />;
  else if (page === 'ladder') body = <Ladder key={route.arg} sid={route.arg} />;
  else if (resource !== undefined) body = <ResourcePageView key={resource.name} page={resource} />;
  else body = <p class="empty">{`No page "${page}".`}</p>;

  return (
    <>
      <header>
        <h1>Trunkline</h1>
        {logged && (
          <nav id="nav">
            {NAV.map(([p, title]) => (
              <a key={p} href={`#${p}`} data-page={p} class={p === page ? 'active' : ''}>
                {title}
              </a>
            ))}
          </nav>
        )}
        {logged && (
          <button id="logout" type="button" onClick={logout}>
            Log out
          </button>
        )}
      </header>
      <main>
        {error !== '' && (
          <p id="error" role="alert">
            {error}
            <button type="button" class="close" aria-label="dismiss" onClick={() => showError('')}>
              ×
            </button>
          </p>
        )}
        {body}
      </main>
    </>
  );
}
