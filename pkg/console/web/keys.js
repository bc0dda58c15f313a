// The key list (filters, search, cursor paging, bulk delete) and the create form.

import { api, query, ApiError, BUILTIN } from './api.js';
import { h, replace, field, time, errorBox, dialog, nextTask } from './ui.js';
import { secretPanel } from './secret.js';

const STATUSES = ['', 'active', 'rotating', 'expired', 'revoked'];

/** failed shows err in box, or signs out when the credential is no longer valid. */
export function failed(c, box, err) {
  if (err instanceof ApiError && err.status === 401) { c.signedOut(); return; }
  replace(box, errorBox(err));
}

// The list's rows are clones of one prototype row, filled with textContent: 50 rows
// cost 50 cloneNode calls instead of a thousand createElement and setAttribute calls.
// A row holds few elements (the cells, the name's link and the checkbox): scopes,
// status, times and the last IP are the cells' own text, so 50 rows are about 550
// elements for the browser to style and lay out, not 800.
const COLUMNS = ['Name', 'Owner', 'Scopes', 'Status', 'Created', 'Expires', 'Last used'];
let protoRow = null;
let protoSelRow = null;

function prototypeRow(selectable) {
  const tr = h('tr', null,
    selectable ? h('td', { class: 'sel' }, h('input', { type: 'checkbox' })) : null,
    COLUMNS.map((label) => h('td', { 'data-label': label })));
  const cells = tr.children;
  const at = selectable ? 1 : 0;
  cells[at].append(h('a', { class: 'key-name' }));
  cells[at + 2].className = 'scopes-text';
  return tr;
}

// timeInto writes iso into td for people, with the exact time as its title.
function timeInto(td, iso) {
  td.textContent = time(iso);
  if (iso) td.title = iso;
}

function row(k, selectable, selected) {
  if (selectable && !protoSelRow) protoSelRow = prototypeRow(true);
  if (!selectable && !protoRow) protoRow = prototypeRow(false);
  const tr = (selectable ? protoSelRow : protoRow).cloneNode(true);
  tr.dataset.key = k.id;
  const cells = tr.children;
  let at = 0;
  if (selectable) {
    const cb = cells[0].firstChild;
    cb.value = k.id;
    cb.checked = selected.has(k.id);
    cb.setAttribute('aria-label', `Select ${k.name}`);
    at = 1;
  }
  const name = cells[at].firstChild;
  name.href = `#/keys/${encodeURIComponent(k.id)}`;
  name.textContent = k.name;
  cells[at + 1].textContent = k.owner || '—';
  cells[at + 2].textContent = (k.scopes || []).join(', ') || '—';
  const st = cells[at + 3];
  st.className = `status status-${k.status}`;
  st.textContent = k.status;
  timeInto(cells[at + 4], k.created_at);
  timeInto(cells[at + 5], k.expires_at);
  const used = cells[at + 6];
  if (!k.last_used_at) used.textContent = 'never';
  else {
    timeInto(used, k.last_used_at);
    if (k.last_used_ip) used.textContent += ` from ${k.last_used_ip}`;
  }
  return tr;
}

// listShell builds the list page's elements: heading, filters, bulk action, and the
// table without rows.
function listShell(c) {
  const el = {
    owner: h('input', { type: 'search', id: 'filter-owner', autocomplete: 'off' }),
    status: h('select', { id: 'filter-status' }, STATUSES.map((s) => h('option', { value: s }, s || 'any'))),
    search: h('input', { type: 'search', id: 'filter-name', autocomplete: 'off' }),
    box: h('div', { id: 'list-error' }),
    count: h('p', { class: 'count', role: 'status', id: 'list-count' }, 'Loading keys…'),
    tbody: h('tbody', { id: 'key-rows' }),
    all: h('input', { type: 'checkbox', id: 'select-all', 'aria-label': 'Select all keys shown' }),
    bulk: h('button', { type: 'button', id: 'bulk-delete', class: 'danger', disabled: true }, 'Delete selected'),
    more: h('button', { type: 'button', id: 'load-more', class: 'secondary', hidden: true }, 'Load more'),
  };
  el.filters = h('form', { class: 'filters', 'aria-label': 'Filters' },
    field('Owner', el.owner), field('Status', el.status), field('Search loaded keys by name', el.search),
    h('div', { class: 'field' }, h('button', { type: 'submit', class: 'secondary' }, 'Apply filters')));
  el.table = h('table', { class: 'keys', 'aria-busy': 'true' },
    h('caption', { class: 'sr-only' }, 'API keys'),
    h('thead', null, h('tr', null,
      c.can.write ? h('th', { scope: 'col', class: 'sel' }, el.all) : null,
      COLUMNS.map((t) => h('th', { scope: 'col' }, t)))),
    el.tbody);
  el.page = h('section', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', null, 'API keys'),
      c.can.write ? h('a', { href: '#/keys/new', class: 'button primary', id: 'new-key' }, 'New key') : null),
    el.filters, el.box,
    c.can.write ? h('div', { class: 'actions bulk' }, el.bulk) : null,
    h('div', { class: 'table-wrap' }, el.table), el.count, el.more);
  return el;
}

/** listPage is the key list. It is shown with its first rows (or the list call's
 * error): the page goes in whole, in one frame, when the call answers. */
export async function listPage(c) {
  // The first page is asked for before anything is built, and the page is built in a
  // later task, so the call is not kept waiting behind DOM work. The rows go into the
  // page before it is in the document: they are styled and laid out once, with it.
  let first = api('GET', '/v1/keys');
  first.catch(() => {}); // handled where it is awaited
  await nextTask();
  const el = listShell(c);
  const st = { items: [], cursor: null, selected: new Set(), loads: 0 };
  const updateBulk = () => {
    el.bulk.disabled = st.selected.size === 0;
    el.bulk.textContent = st.selected.size ? `Delete selected (${st.selected.size})` : 'Delete selected';
  };
  const render = () => renderRows(c, el, st);
  const load = async (reset) => {
    el.more.disabled = true;
    el.table.setAttribute('aria-busy', 'true');
    replace(el.box);
    try {
      const path = '/v1/keys' + query({ owner: el.owner.value.trim(), status: el.status.value, cursor: reset ? '' : st.cursor });
      const page = await (first || api('GET', path));
      first = null;
      if (reset) { st.items = []; st.selected.clear(); }
      st.items = st.items.concat(page.items);
      st.cursor = page.next_cursor;
      render();
      updateBulk();
    } catch (err) { failed(c, el.box, err); }
    el.more.disabled = false;
    el.table.setAttribute('aria-busy', 'false');
    el.table.dataset.loads = String(++st.loads);
  };
  el.filters.addEventListener('submit', (e) => { e.preventDefault(); load(true); });
  el.search.addEventListener('input', render);
  // One listener for every row's checkbox.
  el.tbody.addEventListener('change', (e) => {
    const cb = e.target;
    if (!(cb instanceof HTMLInputElement) || cb.type !== 'checkbox') return;
    if (cb.checked) st.selected.add(cb.value); else st.selected.delete(cb.value);
    updateBulk();
  });
  el.more.addEventListener('click', () => load(false));
  el.all.addEventListener('change', () => {
    for (const cb of el.tbody.querySelectorAll('input[type=checkbox]')) {
      cb.checked = el.all.checked;
      if (el.all.checked) st.selected.add(cb.value); else st.selected.delete(cb.value);
    }
    updateBulk();
  });
  el.bulk.addEventListener('click', () => bulkDelete(c, st.items, st.selected, el.box, () => load(true)));
  await load(true);
  return el.page;
}

// renderRows shows the loaded keys that match the search, in one fragment.
function renderRows(c, el, st) {
  const needle = el.search.value.trim().toLowerCase();
  const shown = st.items.filter((k) => !needle || k.name.toLowerCase().includes(needle));
  const rows = document.createDocumentFragment();
  for (const k of shown) rows.append(row(k, c.can.write, st.selected));
  if (!shown.length) {
    rows.append(h('tr', null, h('td', { colspan: 8, class: 'empty' },
      st.items.length ? 'No loaded key matches the search.' : 'No keys.')));
  }
  el.tbody.replaceChildren(rows);
  el.count.textContent = `${shown.length} of ${st.items.length} loaded key${st.items.length === 1 ? '' : 's'}${st.cursor ? ', more available' : ''}`;
  el.more.hidden = !st.cursor;
  el.all.checked = shown.length > 0 && shown.every((k) => st.selected.has(k.id));
  // Rows added to the page shown (a later load) are laid out now, once, while the
  // browser waits for its next frame (asked for when they were inserted), rather than
  // after that frame begins: the frame then only paints them. Before the page is in
  // the document (its first load) this costs nothing.
  void el.table.offsetHeight;
}

async function bulkDelete(c, items, selected, box, reload) {
  const ids = [...selected];
  const names = items.filter((k) => selected.has(k.id)).map((k) => k.name);
  const ok = await dialog(`Delete ${ids.length} key${ids.length === 1 ? '' : 's'}?`,
    h('div', null, h('p', null, 'These keys stop working at once and are removed; their audit trail stays.'),
      h('ul', { class: 'names' }, names.map((n) => h('li', null, n)))),
    [{ label: 'Cancel', value: null, class: 'secondary' }, { label: 'Delete', value: true, class: 'danger' }]);
  if (!ok) return;
  try {
    const out = await api('POST', '/v1/keys/batch-delete', { ids });
    const parts = [`Deleted ${out.deleted.length}.`];
    if (out.not_found.length) parts.push(`${out.not_found.length} not found.`);
    if (out.forbidden.length) parts.push(`${out.forbidden.length} not allowed (code forbidden).`);
    c.flash(parts.join(' '));
    await reload();
  } catch (err) { failed(c, box, err); }
}

/** parseList splits a comma-, space- or newline-separated list. */
export function parseList(s) {
  return s.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
}

/** scopePicker offers the built-in actions as checkboxes plus free text. */
export function scopePicker(initial) {
  const chosen = new Set(initial || []);
  const boxes = BUILTIN.map((s) => {
    const cb = h('input', { type: 'checkbox', value: s, id: `scope-${s.replace(':', '-')}`, checked: chosen.has(s) });
    return h('div', { class: 'check' }, cb, h('label', { for: cb.id }, h('code', null, s)));
  });
  const other = h('textarea', { id: 'scope-other', rows: 2, spellcheck: 'false' }, (initial || []).filter((s) => !BUILTIN.includes(s)).join('\n'));
  const el = h('fieldset', { class: 'scope-picker' }, h('legend', null, 'Scopes'),
    h('div', { class: 'checks' }, boxes),
    field('Other scopes', other, 'One per line or comma-separated, e.g. orders:read or keys:read@owner:alice.'));
  return {
    el,
    value: () => [...el.querySelectorAll('input[type=checkbox]:checked')].map((cb) => cb.value).concat(parseList(other.value)),
  };
}

/** limitsText says a key's limits in words: [rate limit, credits, refill]. */
export function limitsText(k) {
  const rl = k.ratelimit;
  return [
    rl ? `${rl.limit} use${rl.limit === 1 ? '' : 's'} per ${rl.window_seconds} s` : 'none',
    k.remaining === null || k.remaining === undefined ? 'unlimited' : String(k.remaining),
    k.refill ? `back to ${k.refill.amount} every ${k.refill.every}` : 'none',
  ];
}

function intOrNull(input) {
  const v = input.value.trim();
  return v === '' ? null : Number(v);
}

/** limitsPicker is the fieldset of a key's limits (ids prefix-rate-limit and so on),
 * filled from k; value() is {ratelimit, remaining, refill}, null for each one left
 * empty (no rate limit, unlimited credits, no refill), or throws a readable Error. */
export function limitsPicker(prefix, k) {
  const rl = (k && k.ratelimit) || null;
  const refill = (k && k.refill) || null;
  const num = (id, value, min, max) => h('input', { id: `${prefix}-${id}`, type: 'number', inputmode: 'numeric', step: 1, min, max,
    value: value === null || value === undefined ? '' : value });
  const limit = num('rate-limit', rl && rl.limit, 1, 1000000000);
  const windowS = num('rate-window', rl ? rl.window_seconds : 60, 1, 86400);
  const remaining = num('remaining', k ? k.remaining : null, 0, 1e15);
  const amount = num('refill-amount', refill && refill.amount, 1, 1e15);
  const every = h('select', { id: `${prefix}-refill-every` },
    [['', 'no refill'], ['day', 'every day (UTC)'], ['month', 'every month (UTC)']].map(([v, label]) =>
      h('option', { value: v, selected: (refill ? refill.every : '') === v }, label)));
  const el = h('fieldset', { class: 'limits', id: `${prefix}-limits` }, h('legend', null, 'Usage limits'),
    h('div', { class: 'limit-grid' },
      field('Rate limit (uses)', limit, 'Per window. Empty: no rate limit.'),
      field('Window (seconds)', windowS, 'e.g. 60: a minute.'),
      field('Credits left', remaining, 'A use spends one. Empty: unlimited.'),
      field('Refill', every),
      field('Refill to (credits)', amount, 'Needs credits set.')));
  return {
    el,
    value: () => {
      const out = { ratelimit: null, remaining: intOrNull(remaining), refill: null };
      const n = intOrNull(limit);
      if (n !== null) out.ratelimit = { limit: n, window_seconds: intOrNull(windowS) };
      if (out.ratelimit && out.ratelimit.window_seconds === null) throw new Error('A rate limit needs a window: set its seconds.');
      const a = intOrNull(amount);
      if (every.value && a === null) throw new Error('A refill needs an amount: set "Refill to".');
      if (!every.value && a !== null) throw new Error('A refill amount needs a period: choose every day or every month.');
      if (every.value) out.refill = { amount: a, every: every.value };
      return out;
    },
  };
}

/** createPage is the create form, then the one-time secret. */
export async function createPage(c) {
  const name = h('input', { id: 'key-name', required: true, maxlength: 128, autocomplete: 'off' });
  const description = h('textarea', { id: 'key-description', rows: 2 });
  const owner = h('input', { id: 'key-owner', autocomplete: 'off', value: c.who.auth === 'root' ? '' : (c.who.owner || '') });
  const scopes = scopePicker([]);
  const days = h('input', { id: 'key-days', type: 'number', min: 1, max: 3650, value: 90, required: true });
  const cidrs = h('textarea', { id: 'key-cidrs', rows: 2, spellcheck: 'false' });
  const limits = limitsPicker('key', null);
  const box = h('div', { id: 'create-error' });
  const submit = h('button', { type: 'submit', class: 'primary', id: 'create-submit' }, 'Create key');
  const page = h('section', { class: 'page' });
  const form = h('form', { class: 'panel form', 'aria-labelledby': 'create-title' },
    h('h1', { id: 'create-title' }, 'New key'),
    field('Name', name, '1 to 128 characters, e.g. github-actions-prod.'),
    field('Description', description),
    field('Owner', owner, 'Who the key belongs to, e.g. alice@example.com or team-payments/ci.'),
    scopes.el,
    field('Expires in (days)', days, 'Defaults to 90 days.'),
    field('Allowed CIDRs', cidrs, 'Optional: one per line; empty means from anywhere.'),
    limits.el,
    box,
    h('div', { class: 'actions' }, submit, h('a', { href: '#/keys', class: 'button secondary' }, 'Cancel')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    replace(box);
    const body = { name: name.value.trim(), scopes: scopes.value(), expires_in_days: Number(days.value) };
    if (description.value.trim()) body.description = description.value.trim();
    if (owner.value.trim()) body.owner = owner.value.trim();
    const cl = parseList(cidrs.value);
    if (cl.length) body.allowed_cidrs = cl;
    try {
      for (const [f, v] of Object.entries(limits.value())) if (v !== null) body[f] = v;
    } catch (err) {
      replace(box, errorBox(err));
      submit.disabled = false;
      return;
    }
    try {
      const k = await api('POST', '/v1/keys', body);
      replace(page, secretPanel(k, k.secret, 'Key created', () => c.go(`#/keys/${encodeURIComponent(k.id)}`)));
      c.recall(page); // the user may have left the form while it was sent
      k.secret = '';
      page.querySelector('#copy-secret').focus();
    } catch (err) {
      failed(c, box, err);
      submit.disabled = false;
    }
  });
  if (!c.can.write) return replace(page, h('h1', null, 'New key'), errorBox({ message: 'Your credential cannot create keys (it lacks keys:write).' }));
  return replace(page, form);
}
