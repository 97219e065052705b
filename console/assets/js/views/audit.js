// The audit log of operator actions (GET /v1/audit, operators): who, what,
// on which filter or task, how many.
import {h, table, time} from '../dom.js';
import {get, qs} from '../api.js';
import {title, optional} from './common.js';
import {describeFilter} from '../filters.js';

export async function audit({root, params, navigate}) {
  title(root, 'Audit log');
  const cursor = params.get('cursor') || '';
  const data = await optional(root, 'The audit log', () => get(`/v1/audit${qs({limit: 50, cursor})}`));
  if (!data) return;
  const show = v => (v === undefined || v === null || v === '' ? '—' : typeof v === 'string' ? v : JSON.stringify(v));
  root.append(table('Audit log', [
    {label: 'When', cell: e => time(e.at)},
    {label: 'Who', cell: e => `${show(e.who)}${e.role ? ` (${e.role})` : ''}`},
    {label: 'Tenant', cell: e => show(e.tenant)},
    {label: 'Action', cell: e => show(e.action)},
    {label: 'Target', cell: e => h('code', {}, show(e.target))},
    {label: 'Filter', cell: e => h('code', {}, e.filter && typeof e.filter === 'object' ? describeFilter(e.filter) : show(e.filter))},
    {label: 'Count', num: true, cell: e => show(e.count)},
  ], data.entries || [], 'No operator action recorded yet.'),
  h('nav.row', {'aria-label': 'Pages'},
    cursor ? h('a.button', {href: '#/audit'}, '← Newest') : null,
    data.next_cursor ? h('button', {type: 'button', class: 'secondary',
      onclick: () => navigate(`#/audit${qs({cursor: data.next_cursor})}`)}, 'Older →') : null));
}
