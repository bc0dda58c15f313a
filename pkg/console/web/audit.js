// The audit log: every event, filterable by type, linking to the keys.

import { api, query } from './api.js';
import { h, replace, field, timeEl } from './ui.js';
import { failed } from './keys.js';

export const TYPES = ['key.created', 'key.updated', 'key.used', 'key.rotated', 'key.rotation_finished', 'key.revoked', 'key.deleted',
  'key.expired', 'key.expiry_reminder', 'key.stale_reminder', 'token.issued', 'token.refreshed', 'token.revoked', 'auth.failed'];

function detailText(d) {
  if (!d || !Object.keys(d).length) return '';
  return Object.entries(d).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ');
}

/** eventTable is a table of events that rows can be added to; withKey adds a column
 * linking to each event's key. */
export function eventTable(withKey) {
  const tbody = h('tbody', { class: 'event-rows' });
  const emptyCell = h('td', { colspan: withKey ? 6 : 5, class: 'empty' }, 'Loading events…');
  const empty = h('tr', null, emptyCell);
  tbody.append(empty);
  const el = h('div', { class: 'table-wrap' }, h('table', { class: 'events' },
    h('thead', null, h('tr', null, ['Time', 'Type', withKey ? 'Key' : null, 'Actor', 'IP', 'Detail']
      .filter(Boolean).map((t) => h('th', { scope: 'col' }, t)))),
    tbody));
  return {
    el,
    clear: () => { replace(tbody, empty); },
    add: (items) => {
      emptyCell.textContent = 'No events.';
      if (items.length) empty.remove();
      for (const e of items) {
        tbody.append(h('tr', { 'data-event': e.type },
          h('td', { 'data-label': 'Time' }, timeEl(e.time)),
          h('td', { 'data-label': 'Type' }, h('code', null, e.type)),
          withKey ? h('td', { 'data-label': 'Key' }, e.key_id ? h('a', { href: `#/keys/${encodeURIComponent(e.key_id)}`, class: 'event-key' }, e.key_id) : '—') : null,
          h('td', { 'data-label': 'Actor' }, e.actor || '—'),
          h('td', { 'data-label': 'IP' }, e.ip || '—'),
          h('td', { 'data-label': 'Detail', class: 'detail' }, detailText(e.detail))));
      }
    },
  };
}

/** auditPage is the audit log. */
export async function auditPage(c) {
  const type = h('select', { id: 'filter-type' }, h('option', { value: '' }, 'any'), TYPES.map((t) => h('option', { value: t }, t)));
  const box = h('div', { id: 'audit-error' });
  const list = eventTable(true);
  const more = h('button', { type: 'button', class: 'secondary', id: 'audit-more', hidden: true }, 'Load more');
  let cursor = '';
  const load = async (reset) => {
    replace(box);
    try {
      const page = await api('GET', '/v1/audit' + query({ type: type.value, cursor: reset ? '' : cursor }));
      if (reset) list.clear();
      list.add(page.items);
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } catch (err) { failed(c, box, err); }
  };
  type.addEventListener('change', () => load(true));
  more.addEventListener('click', () => load(false));
  const page = h('section', { class: 'page' }, h('h1', null, 'Audit log'),
    c.can.audit ? null : h('p', { class: 'hint' }, 'Reading the audit log needs audit:read.'),
    h('form', { class: 'filters', 'aria-label': 'Filters' }, field('Event type', type)),
    box, list.el, more);
  if (c.can.audit) await load(true);
  return page;
}
