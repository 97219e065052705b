// 3. Tasks: filters (state, type, queue, tenant, priority, time range,
// payload JSON path), keyset pagination; the filter and the page are in the
// URL.
import {h, table, badge, time, progressOf, notice} from '../dom.js';
import {get, qs} from '../api.js';
import {session} from '../session.js';
import {filterForm, filterFrom, describeFilter} from '../filters.js';
import {title} from './common.js';

const PAGE = 50;

export async function tasks({root, params, navigate}) {
  const filter = filterFrom(params);
  const cursor = params.get('cursor') || '';
  // The cursors of the pages before this one, so Previous goes back.
  const trail = (params.get('trail') || '').split('~').filter(Boolean);
  const go = (f, extra = {}) => navigate(`#/tasks${qs({...f, ...extra})}`);
  title(root, 'Tasks', filterForm('tf', filter, f => go(f)));
  if (session.who()?.legacy && ['priority', 'created_after', 'created_before', 'where'].some(k => filter[k])) {
    root.append(notice('This server does not filter by priority, time range or payload yet: those filters are ignored.'));
  }
  const data = await get(`/v1/tasks${qs({...filter, limit: PAGE, cursor})}`);
  const list = data.tasks || [];
  const columns = [
    {label: 'Task', cell: t => h('a', {href: `#/task/${encodeURIComponent(t.id)}`}, h('code', {}, t.id.slice(0, 8)))},
    {label: 'Type', cell: t => t.type},
    {label: 'Queue', cell: t => t.queue},
    {label: 'State', cell: t => badge(t.state)},
    {label: 'Priority', num: true, cell: t => String(t.priority ?? 0)},
    session.isOperator() ? {label: 'Tenant', cell: t => t.tenant} : null,
    {label: 'Attempt', num: true, cell: t => `${t.attempt ?? 0}/${t.max_attempts ?? '?'}`},
    {label: 'Progress', cell: t => progressOf(t.progress)},
    {label: 'Created', cell: t => time(t.created_at)},
    {label: 'Error', cell: t => (t.last_error ? h('span.muted', {}, t.last_error.slice(0, 120)) : '')},
  ].filter(Boolean);
  const prev = h('button', {type: 'button', class: 'secondary', disabled: !cursor || null}, '← Previous');
  prev.addEventListener('click', () => {
    const before = trail.slice(0, -1);
    go(filter, {cursor: trail[trail.length - 1] || '', trail: before.join('~')});
  });
  const next = h('button', {type: 'button', class: 'secondary', disabled: !data.next_cursor || null}, 'Next →');
  next.addEventListener('click', () => go(filter, {cursor: data.next_cursor, trail: [...trail, cursor].join('~')}));
  root.append(
    h('div.row', {}, h('span.muted', {'data-testid': 'task-count'},
      `${list.length} task${list.length === 1 ? '' : 's'} on this page · ${describeFilter(filter)}`),
    h('a.button', {href: `#/bulk${qs(filter)}`}, 'Bulk action on this filter…')),
    table('Tasks', columns, list, 'No task matches this filter.'),
    h('nav.row', {'aria-label': 'Pages'}, prev, next));
}
