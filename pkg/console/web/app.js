// The console's entry point: sign-in, the header (who is signed in, with which
// scopes), the idle timeout and the hash router (#/keys, #/keys/new, #/keys/<id>,
// #/audit).

import { signIn, signOut, who } from './api.js';
import { can } from './perms.js';
import { h, replace, field, errorBox, notice, focusMain } from './ui.js';
import { listPage, createPage } from './keys.js';
import { detailPage } from './detail.js';
import { auditPage } from './audit.js';
import { pendingSecret, dropSecret } from './secret.js';

const main = document.getElementById('main');
const flash = document.getElementById('flash');

// Idle timeout: 15 minutes without a key press, click or touch signs out. ?idle=<s>
// (at least 5) shortens it, for a kiosk or a test.
const idleParam = Number(new URLSearchParams(location.search).get('idle'));
const IDLE_MS = (idleParam >= 5 ? idleParam : 15 * 60) * 1000;
let idleTimer = 0;

function resetIdle() {
  if (!who()) return;
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => end('You were signed out after a period without activity.'), IDLE_MS);
}
for (const ev of ['keydown', 'pointerdown', 'wheel', 'touchstart']) {
  document.addEventListener(ev, resetIdle, { passive: true, capture: true });
}

function end(message) {
  clearTimeout(idleTimer);
  signOut();
  dropSecret();
  header();
  history.replaceState(null, '', location.pathname + location.search);
  signInPage(message);
}

document.getElementById('signout').addEventListener('click', () => end('You are signed out.'));

/** ctx is what each page gets: the caller, its permissions, and helpers. */
function ctx() {
  const w = who();
  return {
    who: w,
    can: can(w.scopes),
    flash: (text) => { keepFlash = true; replace(flash, notice(text)); },
    go: (hash) => { if (location.hash === hash) route(); else location.hash = hash; },
    signedOut: () => end('Your credential is no longer accepted: sign in again.'),
  };
}

function header() {
  const w = who();
  document.getElementById('nav').hidden = !w;
  document.getElementById('whoami').hidden = !w;
  const scopes = document.getElementById('scopes');
  scopes.hidden = !w;
  if (!w) { replace(scopes); return; }
  const perms = can(w.scopes);
  for (const a of document.querySelectorAll('#nav a')) {
    const needs = a.dataset.needs;
    a.hidden = !!needs && !perms[needs];
  }
  document.getElementById('who-name').textContent = w.auth === 'root' ? 'root credential' : (w.key_id + (w.owner ? ` (${w.owner})` : ''));
  document.getElementById('who-auth').textContent = w.auth === 'root' ? 'root' : w.auth.replace('_', ' ');
  replace(scopes, h('span', { class: 'who-label' }, 'Scopes:'), ' ',
    (w.scopes || []).map((s) => h('code', { class: 'scope' }, s)));
}

function signInPage(message) {
  const input = h('input', { type: 'password', id: 'credential', autocomplete: 'off', spellcheck: 'false', required: true });
  const err = h('div', { id: 'signin-error' });
  const submit = h('button', { type: 'submit', class: 'primary', id: 'signin' }, 'Sign in');
  const form = h('form', { class: 'panel signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in'),
    message ? notice(message) : null,
    h('p', null, 'Paste an API key or the root credential. A key is traded for a short-lived access token; the credential stays in this tab\'s memory only and is forgotten on sign-out, reload or after 15 minutes idle.'),
    field('API key or root credential', input),
    err,
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    replace(err);
    try {
      await signIn(input.value);
      input.value = '';
      header();
      resetIdle();
      if (!location.hash || location.hash === '#') location.hash = '#/keys';
      else route();
    } catch (ex) {
      replace(err, errorBox(ex));
      submit.disabled = false;
      input.focus();
    }
  });
  replace(main, form);
  replace(flash);
  input.focus();
}

let current = '';
let keepFlash = false; // a message set just before a navigation outlives it
async function route() {
  if (!who()) { signInPage(); return; }
  const pending = pendingSecret();
  if (pending && document.contains(pending)) {
    // The one-time secret must be acknowledged first: stay on it.
    history.replaceState(null, '', current);
    replace(flash, errorBox({ message: 'Acknowledge the secret first: it will not be shown again.' }));
    pending.focus();
    return;
  }
  current = location.hash || '#/keys';
  const path = current.replace(/^#/, '');
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.getAttribute('href') === current) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  const c = ctx();
  // The page is started first: its first API call leaves before any DOM work.
  let view;
  if (path === '/keys/new') view = createPage(c);
  else if (path.startsWith('/keys/')) view = detailPage(c, decodeURIComponent(path.slice(6)));
  else if (path === '/audit') view = auditPage(c);
  else view = listPage(c);
  replace(main, h('p', { class: 'loading', role: 'status' }, 'Loading…'));
  const el = await view;
  if (current !== (location.hash || '#/keys')) return; // navigated meanwhile
  replace(main, el);
  focusMain(main);
}

window.addEventListener('hashchange', () => {
  if (!keepFlash) replace(flash);
  keepFlash = false;
  route();
});
window.addEventListener('beforeunload', (e) => { if (pendingSecret()) e.preventDefault(); });
route();
