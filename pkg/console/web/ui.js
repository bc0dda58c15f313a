// DOM helpers. Text always goes in as text (textContent), never as markup, so nothing
// the API returns can become script.

/** h builds an element: attributes (on* are listeners, class, for, boolean flags), then
 * children (strings become text nodes; null and false are skipped). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** replace puts children in place of el's content. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** nextTask resolves in a later task. The browser sends the request of a fetch only
 * once the task that called fetch has ended: a page that starts its call, then awaits
 * nextTask() before it builds its elements, does not hold the request back behind them. */
export function nextTask() {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => resolve();
    ch.port2.postMessage(null);
  });
}

let uid = 0;
/** field is a labelled control: a label, the control, and an optional hint. */
export function field(label, control, hint) {
  const id = control.id || `f${++uid}`;
  control.id = id;
  let hintEl = null;
  if (hint) {
    hintEl = h('p', { class: 'hint', id: `${id}-hint` }, hint);
    control.setAttribute('aria-describedby', hintEl.id);
  }
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl);
}

/** time renders an RFC 3339 time for people (UTC), or a dash. */
export function time(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** timeEl is a <time> element for iso. */
export function timeEl(iso) {
  return iso ? h('time', { datetime: iso, title: iso }, time(iso)) : '—';
}

/** left renders the time from now until iso: "2 h 5 min", or "ended". */
export function left(iso) {
  const ms = new Date(iso).getTime() - Date.now();
  if (!(ms > 0)) return 'ended';
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400), hr = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d) return `${d} d ${hr} h`;
  if (hr) return `${hr} h ${m} min`;
  if (m) return `${m} min ${s % 60} s`;
  return `${s} s`;
}

/** status renders a key status as a badge. */
export function status(s) {
  return h('span', { class: `badge badge-${s}` }, s);
}

/** errorBox shows err (an ApiError or other) as a readable alert. */
export function errorBox(err) {
  const msg = typeof err.readable === 'function' ? err.readable() : (err.message || String(err));
  return h('div', { class: 'alert alert-error', role: 'alert' }, msg);
}

/** notice is a polite status message. */
export function notice(text) {
  return h('div', { class: 'alert alert-ok', role: 'status' }, text);
}

/** dialog opens a modal <dialog> with title and body; actions are buttons. It returns
 * a promise of the value of the button used (null for Cancel or Escape), and gives the
 * focus back to the element that had it. */
export function dialog(title, body, actions, first) {
  const opener = document.activeElement;
  const titleId = `d${++uid}`;
  const dlg = h('dialog', { 'aria-labelledby': titleId, class: 'dialog' });
  const foot = h('div', { class: 'actions' });
  const form = h('form', { method: 'dialog' }, h('h2', { id: titleId }, title), body, foot);
  dlg.append(form);
  return new Promise((resolve) => {
    let result = null;
    const close = (v) => { result = v; dlg.close(); };
    for (const a of actions) {
      const b = h('button', { type: 'button', class: a.class || '', disabled: a.disabled }, a.label);
      b.addEventListener('click', () => { if (a.value === null) close(null); else if (!b.disabled) close(a.value); });
      if (a.bind) a.bind(b);
      foot.append(b);
    }
    form.addEventListener('submit', (e) => e.preventDefault());
    dlg.addEventListener('close', () => {
      dlg.remove();
      if (opener && typeof opener.focus === 'function' && document.contains(opener)) opener.focus();
      resolve(result);
    });
    document.body.append(dlg);
    dlg.showModal();
    const f = first || dlg.querySelector('input, textarea, select, button');
    if (f) f.focus();
  });
}

// scrolled tracks whether the window is scrolled, from scroll events, so that
// focusMain need not read scrollY (a read that forces a layout of the new page).
let scrolled = false;
addEventListener('scroll', () => { scrolled = window.scrollY > 0; }, { passive: true });

/** focusMain moves the focus to the page's heading after a route change, and the
 * window to the top (preventScroll: the window goes to the top, not to wherever the
 * heading's scrolling into view would take it). */
export function focusMain(main) {
  const h1 = main.querySelector('h1');
  if (h1) { h1.tabIndex = -1; h1.focus({ preventScroll: true }); }
  if (scrolled) window.scrollTo(0, 0);
}
