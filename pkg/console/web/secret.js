// The one-time secret panel: the secret of a new or rotated key, shown once, with a
// copy button; the user acknowledges it before doing anything else.

import { h } from './ui.js';

let pending = null; // the panel waiting for acknowledgement

/** pendingSecret reports whether a secret panel still waits to be acknowledged. */
export function pendingSecret() { return pending; }

/** secretPanel renders the secret of key; onDone runs once the user acknowledges. */
export function secretPanel(key, secret, heading, onDone) {
  const out = h('output', { class: 'secret', id: 'secret-value', 'aria-label': 'Secret' }, secret);
  const copied = h('span', { class: 'copied', role: 'status', id: 'copy-status' });
  const copy = h('button', { type: 'button', id: 'copy-secret', class: 'primary' }, 'Copy secret');
  const ack = h('input', { type: 'checkbox', id: 'ack-secret' });
  const done = h('button', { type: 'button', id: 'secret-done', disabled: true }, 'Done');
  const panel = h('section', { class: 'panel secret-panel', 'aria-labelledby': 'secret-title', tabindex: '-1' },
    h('h1', { id: 'secret-title' }, heading),
    h('p', null, 'This is the only time the secret of ', h('strong', null, key.name), ' is shown. Store it now: Keyward keeps only a hash of it.'),
    out,
    h('div', { class: 'actions' }, copy, copied),
    h('div', { class: 'check' }, ack, h('label', { for: 'ack-secret' }, 'I have stored the secret somewhere safe')),
    h('div', { class: 'actions' }, done));
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(secret);
      copied.textContent = 'Copied to the clipboard.';
    } catch {
      const range = document.createRange();
      range.selectNodeContents(out);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      copied.textContent = 'Selected: press Ctrl+C (or ⌘C) to copy.';
    }
  });
  ack.addEventListener('change', () => { done.disabled = !ack.checked; });
  done.addEventListener('click', () => {
    if (!ack.checked) return;
    pending = null;
    out.textContent = '';
    onDone();
  });
  pending = panel;
  return panel;
}

/** dropSecret forgets a pending panel (sign-out). */
export function dropSecret() { pending = null; }
