// 7. Dead and failed tasks grouped by error message, each with a sample
// (GET /v1/tasks:errors). On a server without that route, the groups are
// counted here from the first pages of dead and failed tasks, and said so.
import {h, table, time, notice} from '../dom.js';
import {get, qs, ApiError} from '../api.js';
import {filterForm, filterFrom} from '../filters.js';
import {title} from './common.js';

async function groupsHere(filter) {
  const groups = new Map();
  for (const state of filter.state ? [filter.state] : ['dead', 'failed']) {
    const data = await get(`/v1/tasks${qs({...filter, state, limit: 1000})}`);
    for (const t of data.tasks || []) {
      const key = t.last_error || '(no error recorded)';
      const g = groups.get(key) || {error: key, count: 0, sample_task_id: t.id, last_at: t.finished_at};
      g.count += 1;
      if (t.finished_at && (!g.last_at || t.finished_at > g.last_at)) g.last_at = t.finished_at;
      groups.set(key, g);
    }
  }
  return [...groups.values()].sort((a, b) => b.count - a.count);
}

export async function errors({root, params, navigate}) {
  const filter = filterFrom(params);
  title(root, 'Dead and failed tasks', filterForm('ef', filter, f => navigate(`#/errors${qs(f)}`)));
  let groups;
  try {
    groups = (await get(`/v1/tasks:errors${qs(filter)}`)).groups || [];
  } catch (e) {
    if (!(e instanceof ApiError && e.missingRoute)) throw e;
    root.append(notice('Grouping on the server is not available yet: these groups count at most the 1,000 newest dead and 1,000 newest failed tasks.'));
    groups = await groupsHere(filter);
  }
  root.append(table('Errors', [
    {label: 'Error', cell: g => h('code', {}, g.error)},
    {label: 'Tasks', num: true, cell: g => String(g.count)},
    {label: 'Last', cell: g => time(g.last_at)},
    {label: 'Sample', cell: g => (g.sample_task_id ? h('a', {href: `#/task/${encodeURIComponent(g.sample_task_id)}`}, 'sample task') : '—')},
  ], groups, 'No dead or failed task matches.'),
  h('p', {}, h('a', {href: `#/bulk${qs({state: filter.state || 'dead', ...filter})}`}, 'Retry or delete these in bulk…')));
}
