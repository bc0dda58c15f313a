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

// Idle timeout: the deployment's, from the page's keyward-idle-minutes meta element
// (template parameter ConsoleIdleMinutes, 15 by default). ?idle=<s> (at least 5) may
// shorten it, for a kiosk or a test; nothing lengthens it. A warning with a countdown
// shows for the last minute (a third of the timeout, if that is shorter).
const idleMeta = document.querySelector('meta[name="keyward-idle-minutes"]');
const idleMinutes = Math.max(1, Number(idleMeta && idleMeta.content) || 15);
const idleParam = Number(new URLSearchParams(location.search).get('idle'));
const IDLE_MS = Math.min(idleMinutes * 60, idleParam >= 5 ? idleParam : Infinity) * 1000;
const WARN_MS = Math.min(60000, IDLE_MS / 3);
const warning = document.getElementById('idle-warning');
let lastActive = 0;
let idleTimer = 0;

/** idleText says how long the console waits, e.g. "15 minutes". */
function idleText() {
  const s = Math.round(IDLE_MS / 1000);
  if (s < 60) return `${s} seconds`;
  const m = Math.round(s / 60);
  return m === 1 ? '1 minute' : `${m} minutes`;
}

function resetIdle() {
  if (!who()) return;
  lastActive = Date.now();
  warning.hidden = true;
  checkIdle();
}

// checkIdle signs out once the timeout has passed, shows the warning near its end,
// and checks again when something may change (every second during the warning).
// Times are taken from the clock, not summed from timers a background tab delays.
function checkIdle() {
  clearTimeout(idleTimer);
  if (!who()) return;
  const idle = Date.now() - lastActive;
  if (idle >= IDLE_MS) { end('You were signed out after a period without activity.'); return; }
  const warnAt = IDLE_MS - WARN_MS;
  if (idle >= warnAt) {
    const left = Math.ceil((IDLE_MS - idle) / 1000);
    document.getElementById('idle-left').textContent = `${left} second${left === 1 ? '' : 's'}`;
    warning.hidden = false;
  }
  idleTimer = setTimeout(checkIdle, idle < warnAt ? warnAt - idle : Math.min(1000, IDLE_MS - idle));
}
for (const ev of ['keydown', 'pointerdown', 'wheel', 'touchstart']) {
  document.addEventListener(ev, resetIdle, { passive: true, capture: true });
}
document.addEventListener('visibilitychange', checkIdle);
document.getElementById('idle-stay').addEventListener('click', resetIdle);
document.getElementById('idle-note').textContent = `Signs out after ${idleText()} idle`;

function end(message) {
  routes++; // a page being prepared is not shown after the sign-in page
  current = shown = ''; // the next sign-in routes its address, whatever it is
  clearTimeout(idleTimer);
  warning.hidden = true;
  signOut();
  dropSecret();
  header();
  setAddress(location.pathname + location.search);
  signInPage(message);
}

document.getElementById('signout').addEventListener('click', () => end('You are signed out.'));

/** ctx is what each page gets: the caller, its permissions, and helpers. */
function ctx() {
  const w = who();
  const here = current;
  return {
    who: w,
    can: can(w.scopes),
    flash: (text) => { keepFlash = true; replace(flash, notice(text)); },
    go: (hash) => {
      sayAddress(); // the address compared is the page shown's
      if (location.hash === hash) route(); else location.hash = hash;
    },
    signedOut: () => end('Your credential is no longer accepted: sign in again.'),
    // recall keeps a one-time secret that answered as the user left its page on the
    // screen, at its page's address: the secret must not be lost. The page being
    // prepared, if any, is dropped; a page already left is put back.
    recall: (page) => {
      if (who() !== w) return;
      if (document.contains(page)) {
        if (leaving && holdSecret() && location.hash !== shown) setAddress(shown);
        return;
      }
      routes++;
      settle();
      setAddress(here);
      current = here;
      put(here, page);
    },
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
    h('p', { id: 'signin-note' }, `Paste an API key or the root credential. A key is traded for a short-lived access token; the credential stays in this tab's memory only and is forgotten on sign-out, reload or after ${idleText()} without a key press or click.`),
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
  settle();
  replace(main, form);
  replace(flash);
  input.focus();
}

const SLOW_MS = 300;
let slowTimer = 0;
// leaving is set while the next page is being prepared: the page being left stays as
// it is, but clicks and submits on it are refused (a form submitted now would show
// its answer, a one-time secret, on a page about to go). Listeners, not inert: making
// the page inert restyles it, and the frame that follows costs the list call several
// milliseconds on a busy machine. A secret that came on the screen meanwhile (a form
// sent just before) stays live: the page being prepared will not replace it. Main is
// aria-busy meanwhile, until the page or the slow-page message replaces it.
let leaving = false;
for (const type of ['click', 'submit']) {
  main.addEventListener(type, (e) => {
    if (!leaving || secretShown()) return;
    e.preventDefault();
    e.stopImmediatePropagation();
  }, true);
}
/** settle ends the wait for a page: main is live again. */
function settle() {
  clearTimeout(slowTimer);
  leaving = false;
  main.removeAttribute('aria-busy');
}
let current = ''; // the address of the page shown, or being prepared
let shown = ''; // the address of the page shown
let routes = 0; // counts prepared pages: one that is ready after a newer one was asked for is dropped
let keepFlash = false; // a message set just before a navigation outlives it

/** secretShown reports whether a one-time secret, on the screen, waits to be
 * acknowledged. */
function secretShown() {
  const pending = pendingSecret();
  return !!pending && document.contains(pending);
}

/** holdSecret keeps the user on a one-time secret not yet acknowledged (a page being
 * prepared is dropped, the page shown is live); it reports whether it did. */
function holdSecret() {
  if (!secretShown()) return false;
  routes++;
  settle();
  current = shown;
  replace(flash, errorBox({ message: 'Acknowledge the secret first: it will not be shown again.' }));
  pendingSecret().focus();
  return true;
}

/** route shows the page of hash (the address's, by default). */
async function route(hash) {
  show(await prepare(hash));
}

/** prepare starts the page of hash and resolves with it once it is ready to show
 * (null when there is nothing to show: the sign-in page or a held secret). */
async function prepare(hash = location.hash) {
  if (!who()) { signInPage(); return null; }
  if (holdSecret()) { setAddress(shown); return null; }
  const n = ++routes;
  const at = current = hash || '#/keys';
  const path = at.replace(/^#/, '');
  const c = ctx();
  // The page is started first: its first API call leaves before any DOM work.
  let view;
  if (path === '/keys/new') view = createPage(c);
  else if (path.startsWith('/keys/')) view = detailPage(c, decodeURIComponent(path.slice(6)));
  else if (path === '/audit') view = auditPage(c);
  else view = listPage(c);
  // Until the next page is ready nothing on the screen changes (see leaving): the
  // browser has nothing to style, lay out or paint while the page's call is in
  // flight, and a page that loads fast shows no interim message. One that takes
  // longer than SLOW_MS says it is loading.
  leaving = true;
  main.setAttribute('aria-busy', 'true');
  clearTimeout(slowTimer);
  slowTimer = setTimeout(() => {
    if (secretShown()) return;
    replace(main, h('p', { class: 'loading', role: 'status' }, 'Loading…'));
    main.removeAttribute('aria-busy'); // the status is read out
  }, SLOW_MS);
  let el;
  try { el = await view; } catch (err) { el = errorBox(err); }
  return { n, el, hash: at };
}

/** wanted reports whether a prepared page is still to be shown: no newer one was
 * asked for, and no one-time secret came on the screen meanwhile. */
function wanted(page) {
  return !!page && page.n === routes && !secretShown();
}

/** show puts a prepared page in place, if it is still wanted, and reports whether it
 * did; a secret shown meanwhile keeps the screen and the address. */
function show(page) {
  if (page && page.n === routes && holdSecret()) setAddress(shown);
  if (!wanted(page)) return false;
  settle();
  put(page.hash, page.el);
  return true;
}

/** put shows el, the page of address hash, and marks its link in the nav. */
function put(hash, el) {
  shown = hash;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.getAttribute('href') === hash) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  replace(main, el);
  focusMain(main);
}

/** isRoute reports whether hash is the address of one of the console's pages ('' is
 * the key list); another (the skip link's #main) is left to the browser. */
function isRoute(hash) {
  return !hash || hash.startsWith('#/');
}

function navigated(hash) {
  if (!keepFlash) replace(flash);
  keepFlash = false;
  return prepare(hash);
}

// Where the browser has the Navigation API, the console makes each move to another of
// its pages (a link, a new location.hash) itself: the browser's navigation is
// cancelled, the page is prepared (its first call leaves at once) and shown, and its
// address is set in the task after the frame that painted it. The browser's own work
// for a new address (its session history, the address bar, a frame of its own) then
// runs beside nothing. Done as the move starts, it ran beside the page's call; done
// as the page is shown (a deferred commit), beside its layout and paint: either way
// it cost the key list several milliseconds on a busy machine. The others are routed
// when the address has changed: on popstate, which back and forward fire, and so does
// a link to the address shown (which gives up a page being prepared), and on
// hashchange, which browsers without the API fire (often after a popstate: the second
// finds the page already routed).
let settingAddress = false; // set while the console changes the address itself
let unsaid = null; // the page shown whose address is still to be set, and how: {page, push}

if (window.navigation) {
  window.navigation.addEventListener('navigate', (e) => {
    if (settingAddress || !e.cancelable || !e.destination.sameDocument || !who()) return;
    if (e.navigationType !== 'push' && e.navigationType !== 'replace') return;
    const dest = new URL(e.destination.url);
    if (dest.pathname !== location.pathname || dest.search !== location.search) return;
    // A move made before the page shown has its address (the frame that paints it is
    // still to come) sets that address first, then goes on from there.
    if (unsaid) {
      e.preventDefault();
      sayAddress();
      // The move was a push, or a move to the address that had not been set yet.
      const push = e.navigationType === 'push' || !e.hashChange;
      if (!isRoute(dest.hash)) location[push ? 'assign' : 'replace'](dest.hash);
      else if ((dest.hash || '#/keys') !== shown || current !== shown) move(dest.hash, push);
      return;
    }
    if (!e.hashChange || !isRoute(dest.hash)) return;
    e.preventDefault();
    move(dest.hash, e.navigationType === 'push');
  });
}

/** move shows the page of hash, then sets its address: in a new history entry (push)
 * or in the current one. */
function move(hash, push) {
  if (holdSecret()) return;
  navigated(hash).then((page) => { if (show(page)) addressAfterFrame(page, push); });
}

/** setAddress makes hash the address: a new history entry (push) or the current one. */
function setAddress(hash, push) {
  settingAddress = true;
  try {
    if (push) history.pushState(null, '', hash); else history.replaceState(null, '', hash);
  } finally { settingAddress = false; }
}

/** addressAfterFrame sets the address of page, just shown, once a frame has painted it
 * (at once in a hidden tab, which draws no frames): in a new history entry (push) or
 * in the current one. */
function addressAfterFrame(page, push) {
  const next = unsaid = { page, push };
  if (document.hidden) { sayAddress(); return; }
  requestAnimationFrame(() => setTimeout(() => { if (unsaid === next) sayAddress(); }));
}
// A tab hidden before its next frame draws none: the address is set as it hides.
document.addEventListener('visibilitychange', () => { if (document.hidden) sayAddress(); });

/** sayAddress sets the address of the page shown now, if it is still to be set: before
 * the next move, which starts from it. */
function sayAddress() {
  const next = unsaid;
  unsaid = null;
  if (!next || next.page.n !== routes || shown !== next.page.hash || location.hash === shown) return;
  setAddress(shown, next.push);
}

function addressChanged() {
  unsaid = null; // back or forward: the page shown is left before its address was set
  if (!isRoute(location.hash) || (location.hash || '#/keys') === current) return;
  navigated().then(show);
}
window.addEventListener('popstate', addressChanged);
window.addEventListener('hashchange', addressChanged);
window.addEventListener('beforeunload', (e) => { if (pendingSecret()) e.preventDefault(); });
route();
