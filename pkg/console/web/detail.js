// A key's details: summary, edit form, permissions overview, its event log, and
// rotate / finish rotation / revoke / delete.

import { api, query } from './api.js';
import { h, replace, field, timeEl, left, status, errorBox, dialog } from './ui.js';
import { describe } from './perms.js';
import { failed, scopePicker, parseList, limitsPicker, limitsText } from './keys.js';
import { secretPanel } from './secret.js';
import { eventTable } from './audit.js';
import { usageSection } from './usage.js';

const GRACES = [
  [0, 'None: the old secret stops working at once'],
  [3600, '1 hour'],
  [86400, '24 hours (default)'],
  [7 * 86400, '7 days'],
  [30 * 86400, '30 days (the most)'],
];

/** detailPage is the page of key id. */
export async function detailPage(c, id) {
  const page = h('section', { class: 'page' });
  const box = h('div', { id: 'detail-error' });
  // The usage is asked for at once, beside the key, and drawn when it comes.
  const usage = c.can.read ? api('GET', `/v1/keys/${encodeURIComponent(id)}/usage?days=30`) : null;
  if (usage) usage.catch(() => {}); // shown by the usage panel
  let k;
  try {
    k = await api('GET', `/v1/keys/${encodeURIComponent(id)}`);
  } catch (err) {
    failed(c, box, err);
    return replace(page, h('h1', null, 'Key'), box, h('p', null, h('a', { href: '#/keys' }, 'Back to the keys')));
  }
  usagePanels.set(page, usageSection(c, usage));
  return render(c, page, box, k);
}

// The usage panel of each details page, kept across its redraws (an edit or a rotation
// does not change the counts).
const usagePanels = new WeakMap();

function render(c, page, box, k) {
  const panel = usagePanels.get(page) || null;
  const writable = c.can.writeKey(k) && k.status !== 'revoked' && k.status !== 'expired';
  replace(page,
    h('div', { class: 'page-head' }, h('h1', { id: 'key-title' }, k.name), status(k.status)),
    box,
    actions(c, page, box, k),
    summary(k),
    panel,
    h('div', { class: 'columns' },
      writable ? editForm(c, page, box, k) : readOnly(k),
      permissions(k)),
    events(c, k));
  return page;
}

function summary(k) {
  const rows = [
    ['Key id', h('code', null, k.id)], ['Starts with', h('code', null, k.start || '')],
    ['Owner', k.owner || '—'], ['Status', status(k.status)],
    ['Created', h('span', null, timeEl(k.created_at), k.created_by ? ` by ${k.created_by}` : '')],
    ['Updated', timeEl(k.updated_at)], ['Expires', timeEl(k.expires_at)],
    ['Last used', k.last_used_at ? h('span', null, timeEl(k.last_used_at), k.last_used_ip ? ` from ${k.last_used_ip}` : '') : 'never'],
  ];
  const [rate, credits, refill] = limitsText(k);
  rows.push(['Rate limit', rate], ['Credits left', credits], ['Refill', refill]);
  if (k.rotation) {
    rows.push(['Previous secret valid until', h('span', null, timeEl(k.rotation.previous_expires_at),
      h('span', { class: 'left', id: 'grace-left' }, ` (${left(k.rotation.previous_expires_at)} left)`))]);
  }
  return h('dl', { class: 'summary panel' }, rows.map(([t, d]) => h('div', null, h('dt', null, t), h('dd', null, d))));
}

function actions(c, page, box, k) {
  const bar = h('div', { class: 'actions key-actions' });
  const live = k.status === 'active' || k.status === 'rotating';
  if (c.can.writeKey(k) && live) {
    bar.append(h('button', { type: 'button', id: 'rotate', class: 'secondary', onclick: () => rotate(c, page, box, k) }, 'Rotate'));
  }
  if (c.can.writeKey(k) && k.status === 'rotating') {
    bar.append(h('button', { type: 'button', id: 'finish-rotation', class: 'primary', onclick: () => finish(c, page, box, k) },
      `Finish rotation (${left(k.rotation.previous_expires_at)} left)`));
  }
  if (c.can.revokeKey(k) && k.status !== 'revoked') {
    bar.append(h('button', { type: 'button', id: 'revoke', class: 'danger', onclick: () => revoke(c, page, box, k) }, 'Revoke'));
  }
  if (c.can.writeKey(k)) {
    bar.append(h('button', { type: 'button', id: 'delete', class: 'danger', onclick: () => remove(c, box, k) }, 'Delete'));
  }
  return bar;
}

async function mutate(c, page, box, fn) {
  replace(box);
  try {
    const k = await fn();
    render(c, page, box, k);
    return k;
  } catch (err) {
    failed(c, box, err);
    return null;
  }
}

async function rotate(c, page, box, k) {
  const sel = h('select', { id: 'grace' }, GRACES.map(([s, label]) => h('option', { value: s, selected: s === 86400 }, label)));
  const grace = await dialog(`Rotate ${k.name}?`,
    h('div', null, h('p', null, 'A new secret is made and shown once. During the grace period the previous secret still works, so clients can move over.'),
      field('Grace period for the previous secret', sel)),
    [{ label: 'Cancel', value: null, class: 'secondary' }, { label: 'Rotate', value: 'go', class: 'primary' }], sel);
  if (!grace) return;
  replace(box);
  try {
    const r = await api('POST', `/v1/keys/${encodeURIComponent(k.id)}/rotate`, { grace_seconds: Number(sel.value) });
    const secret = r.secret;
    r.secret = '';
    replace(page, secretPanel(r, secret, 'Key rotated: the new secret', () => render(c, page, box, r)));
    c.recall(page); // the user may have left the key while it was rotated
    page.querySelector('#copy-secret').focus();
  } catch (err) { failed(c, box, err); }
}

async function finish(c, page, box, k) {
  const ok = await dialog('Finish rotation?', h('p', null, 'The previous secret of ', h('strong', null, k.name), ' stops working now.'),
    [{ label: 'Cancel', value: null, class: 'secondary' }, { label: 'Finish rotation', value: true, class: 'primary' }]);
  if (ok) await mutate(c, page, box, () => api('POST', `/v1/keys/${encodeURIComponent(k.id)}/rotate/finish`));
}

async function revoke(c, page, box, k) {
  const input = h('input', { id: 'revoke-confirm', autocomplete: 'off', spellcheck: 'false' });
  let button;
  input.addEventListener('input', () => { button.disabled = input.value !== k.name; });
  const ok = await dialog(`Revoke ${k.name}?`,
    h('div', null, h('p', null, 'Revoking is immediate and cannot be undone: the key and its tokens stop working.'),
      field(`Type the key's name, ${k.name}, to confirm`, input)),
    [{ label: 'Cancel', value: null, class: 'secondary' },
      { label: 'Revoke', value: true, class: 'danger', disabled: true, bind: (b) => { button = b; b.id = 'revoke-confirm-button'; } }], input);
  if (ok && input.value === k.name) await mutate(c, page, box, () => api('POST', `/v1/keys/${encodeURIComponent(k.id)}/revoke`));
}

async function remove(c, box, k) {
  const ok = await dialog(`Delete ${k.name}?`, h('p', null, 'The key is removed and stops working at once. Its audit trail stays.'),
    [{ label: 'Cancel', value: null, class: 'secondary' }, { label: 'Delete', value: true, class: 'danger', bind: (b) => { b.id = 'delete-confirm'; } }]);
  if (!ok) return;
  replace(box);
  try {
    await api('DELETE', `/v1/keys/${encodeURIComponent(k.id)}`);
    c.flash(`Deleted ${k.name}.`);
    c.go('#/keys');
  } catch (err) { failed(c, box, err); }
}

function utcInput(iso) { return iso ? iso.slice(0, 16) : ''; }

function editForm(c, page, box, k) {
  const name = h('input', { id: 'edit-name', value: k.name, required: true, maxlength: 128 });
  const description = h('textarea', { id: 'edit-description', rows: 2 }, k.description || '');
  const owner = h('input', { id: 'edit-owner', value: k.owner || '' });
  const scopes = scopePicker(k.scopes);
  const cidrs = h('textarea', { id: 'edit-cidrs', rows: 2, spellcheck: 'false' }, (k.allowed_cidrs || []).join('\n'));
  const metadata = h('textarea', { id: 'edit-metadata', rows: 3, spellcheck: 'false' }, JSON.stringify(k.metadata || {}, null, 2));
  const expires = h('input', { id: 'edit-expires', type: 'datetime-local', value: utcInput(k.expires_at) });
  const limits = limitsPicker('edit', k);
  const err = h('div', { id: 'edit-error' });
  const save = h('button', { type: 'submit', class: 'primary', id: 'save' }, 'Save changes');
  const form = h('form', { class: 'panel form', 'aria-labelledby': 'edit-title' },
    h('h2', { id: 'edit-title' }, 'Edit'),
    field('Name', name), field('Description', description), field('Owner', owner), scopes.el,
    field('Allowed CIDRs', cidrs, 'One per line; empty means from anywhere.'),
    field('Metadata (JSON object)', metadata),
    field('Expires at (UTC)', expires),
    limits.el,
    err, h('div', { class: 'actions' }, save));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    replace(err);
    let meta;
    try { meta = JSON.parse(metadata.value || '{}'); } catch {
      replace(err, errorBox({ message: 'Metadata is not valid JSON.' }));
      metadata.focus();
      return;
    }
    let lim;
    try { lim = limits.value(); } catch (ex) {
      replace(err, errorBox(ex));
      return;
    }
    const patch = changes(k, {
      ...lim,
      name: name.value.trim(), description: description.value.trim(), owner: owner.value.trim(),
      scopes: scopes.value(), allowed_cidrs: parseList(cidrs.value), metadata: meta,
      expires_at: !expires.value || expires.value === utcInput(k.expires_at) ? k.expires_at
        : new Date(`${expires.value}:00Z`).toISOString().replace('.000Z', 'Z'),
    });
    if (!Object.keys(patch).length) { replace(err, errorBox({ message: 'Nothing changed.' })); return; }
    const done = await mutate(c, page, box, () => api('PATCH', `/v1/keys/${encodeURIComponent(k.id)}`, patch));
    if (done) c.flash('Saved.');
  });
  return form;
}

// changes is the patch: only the fields whose value differs from the key's.
function changes(k, next) {
  const patch = {};
  const was = { name: k.name, description: k.description || '', owner: k.owner || '', scopes: k.scopes || [],
    allowed_cidrs: k.allowed_cidrs || [], metadata: k.metadata || {}, expires_at: k.expires_at,
    ratelimit: k.ratelimit ?? null, remaining: k.remaining ?? null, refill: k.refill ?? null };
  // A limit left as it was is not sent: credits spent meanwhile are not set back.
  for (const f of ['name', 'description', 'owner', 'scopes', 'allowed_cidrs', 'metadata', 'expires_at', 'ratelimit', 'remaining', 'refill']) {
    if (JSON.stringify(next[f]) !== JSON.stringify(was[f])) patch[f] = next[f];
  }
  return patch;
}

function readOnly(k) {
  return h('section', { class: 'panel' }, h('h2', null, 'Settings'),
    h('dl', { class: 'summary' },
      h('div', null, h('dt', null, 'Description'), h('dd', null, k.description || '—')),
      h('div', null, h('dt', null, 'Allowed CIDRs'), h('dd', null, (k.allowed_cidrs || []).join(', ') || 'anywhere')),
      h('div', null, h('dt', null, 'Metadata'), h('dd', null, h('pre', null, JSON.stringify(k.metadata || {}, null, 2))))));
}

function permissions(k) {
  return h('section', { class: 'panel', 'aria-labelledby': 'perm-title' }, h('h2', { id: 'perm-title' }, 'Permissions'),
    h('ul', { class: 'perms' }, (k.scopes || []).map((s) => h('li', null, h('code', { class: 'scope' }, s), ' ', describe(s)))),
    h('p', { class: 'hint' }, (k.allowed_cidrs || []).length ? `Usable only from ${k.allowed_cidrs.join(', ')}.` : 'Usable from any address.'));
}

function events(c, k) {
  const sec = h('section', { class: 'panel', 'aria-labelledby': 'events-title' }, h('h2', { id: 'events-title' }, 'Events'));
  if (!c.can.audit) { sec.append(h('p', { class: 'hint' }, 'Reading events needs audit:read.')); return sec; }
  const box = h('div');
  const list = eventTable(false);
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
  let cursor = '';
  const load = async () => {
    try {
      const page = await api('GET', `/v1/keys/${encodeURIComponent(k.id)}/events` + query({ cursor }));
      list.add(page.items);
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } catch (err) { failed(c, box, err); }
  };
  more.addEventListener('click', load);
  sec.append(box, list.el, more);
  load();
  return sec;
}
