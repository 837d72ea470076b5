// Log in with an API token (`trunkline token add NAME --role admin`): it is
// checked against the API before the console opens.
import { useLayoutEffect, useState } from 'preact/hooks';
import { api, setToken } from '../api';
import { act } from '../load';

export function Login(props: { onLogin: () => void }) {
  const [token, setValue] = useState('');
  useLayoutEffect(() => {
    document.body.dataset.ready = 'login';
  }, []);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setToken(token.trim());
    const ok = await act(() => api('GET', '/domains'));
    if (ok) {
      setValue('');
      props.onLogin();
    } else setToken(null);
  };
  return (
    <div class="login">
      <form id="login-form" class="card form" onSubmit={submit}>
        <h2>Log in</h2>
        <label>
          <span>API token</span>
          <input
            id="token"
            name="token"
            type="password"
            autocomplete="off"
            required
            value={token}
            onInput={(e) => setValue((e.currentTarget as HTMLInputElement).value)}
          />
        </label>
        <div class="buttons">
          <button type="submit" class="primary">
            Log in
          </button>
        </div>
        <p class="hint">
          Make a token with <code>trunkline token add NAME --role admin</code>.
        </p>
      </form>
    </div>
  );
}
