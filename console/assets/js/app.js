// The console's shell: sign-in, the navigation and the hash router. Views
// live in views/*.js; each renders into <main> and may return a cleanup
// function (an open event stream, a poll timer).
import {h, errorBox} from './dom.js';
import {get, ApiError} from './api.js';
import {session} from './session.js';
import {views} from './views/index.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const whoBox = document.getElementById('who');
const statusBox = document.getElementById('status');
let cleanup = null;

export function say(text) {
  statusBox.textContent = text;
  if (text) setTimeout(() => { if (statusBox.textContent === text) statusBox.textContent = ''; }, 6000);
}

// Who the token is: GET /v1/whoami; on a server without it, the role is
// told by an operator-only read (GET /v1/workers answers producers 403).
async function identify() {
  try {
    return await get('/v1/whoami');
  } catch (e) {
    if (!(e instanceof ApiError) || !e.missingRoute) throw e;
    try {
      await get('/v1/workers');
      return {role: 'operator', tenant: '', name: '', legacy: true};
    } catch (e2) {
      if (e2 instanceof ApiError && e2.forbidden) return {role: 'producer', tenant: '', name: '', legacy: true};
      throw e2;
    }
  }
}

function showSignIn(message) {
  nav.hidden = true;
  whoBox.hidden = true;
  const token = h('input', {id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true,
    spellcheck: 'false'});
  const form = h('form', {'aria-labelledby': 'signin-title'},
    h('label', {for: 'token'}, 'API token', token),
    h('div', {}, h('button', {type: 'submit'}, 'Sign in')));
  const box = h('section.signin', {'aria-labelledby': 'signin-title'},
    h('h1', {id: 'signin-title'}, 'Sign in to fila'),
    h('p.muted', {}, 'Use a producer or operator token (fila tokens create). It is kept in this browser tab only.'),
    message ? errorBox(message) : null,
    form);
  form.addEventListener('submit', async e => {
    e.preventDefault();
    const value = token.value.trim();
    token.value = '';
    session.start(value, null);
    try {
      session.setWho(await identify());
      if (!location.hash || location.hash === '#/' || location.hash === '#/signin') location.hash = '#/overview';
      route();
    } catch (err) {
      session.end();
      showSignIn(err instanceof ApiError && err.status === 401 ? 'That token was not accepted.' : `Sign-in failed: ${err.message}`);
    }
  });
  main.replaceChildren(box);
  token.focus();
}

function signOut(message) {
  if (cleanup) { cleanup(); cleanup = null; }
  session.end();
  history.replaceState(null, '', location.pathname + location.hash);
  showSignIn(message);
}

function showWho() {
  const w = session.who();
  // The token's name ("token <id>", never the secret), shortened: the id's first characters tell tokens apart.
  const name = w.name && w.name.length > 16 ? `${w.name.slice(0, 14)}…` : w.name;
  const text = document.getElementById('who-text');
  text.textContent = `${w.role}${w.tenant ? ` · tenant ${w.tenant}` : ''}${name ? ` · ${name}` : ''}`;
  text.title = w.name || '';
  whoBox.hidden = false;
  nav.hidden = false;
}

async function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  if (!session.signedIn()) { showSignIn(); return; }
  if (!session.who()) {
    try { session.setWho(await identify()); } catch (err) { signOut(`Sign-in failed: ${err.message}`); return; }
  }
  showWho();
  const hash = location.hash.replace(/^#\/?/, '') || 'overview';
  const [pathPart, query = ''] = hash.split('?');
  const [name, ...rest] = pathPart.split('/');
  const params = new URLSearchParams(query);
  const view = views[name] || views.overview;
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.view === (name === 'task' ? 'tasks' : name)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const root = h('div', {'data-view': name});
  main.replaceChildren(root);
  try {
    const done = await view({root, params, args: rest.map(decodeURIComponent), say, navigate});
    if (typeof done === 'function') cleanup = done;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;  // signed out below
    root.append(errorBox(err instanceof ApiError && err.missingRoute
      ? `This view is not available: the server has no ${err.message.replace(/^no such resource: /, '')} route yet.`
      : `Could not load this view: ${err.message}`));
  }
}

// Changes the hash: a new entry in the history (back works), then route().
export function navigate(hash) {
  if (location.hash === hash) route(); else location.hash = hash;
}

session.onExpired(() => signOut('The session ended: the token is no longer accepted. Sign in again.'));
document.getElementById('sign-out').addEventListener('click', () => signOut());
window.addEventListener('hashchange', () => { route(); main.focus({preventScroll: true}); });
route();
