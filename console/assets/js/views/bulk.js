// 8. Bulk actions on everything matching a filter: a dry-run count first,
// then a named job that the server runs in the background in batches
// (POST /v1/bulk), its progress, and the list of jobs.
import {h, table, time, field, select, notice, errorBox} from '../dom.js';
import {get, post, qs, ApiError} from '../api.js';
import {session} from '../session.js';
import {filterForm, filterFrom, describeFilter} from '../filters.js';
import {title, optional, every} from './common.js';

function jobProgress(j) {
  const total = Number(j.total || 0);
  const done = Number(j.done || 0) + Number(j.skipped || 0) + Number(j.failed || 0);
  return h('span', {}, h('progress', {max: total || 1, value: done, 'aria-label': `${j.name || j.id}: ${done} of ${total}`}),
    ` ${done}/${total}`, j.skipped ? ` (${j.skipped} skipped)` : '', j.failed ? ` (${j.failed} failed)` : '');
}

const jobList = payload => (Array.isArray(payload) ? payload : payload.jobs || payload.bulk || payload.items || []);

export async function bulk({root, params, navigate, say}) {
  const filter = filterFrom(params);
  // Producers may cancel their own tasks; retry and delete are operators'.
  const actions = session.isOperator() ? ['retry', 'cancel', 'delete'] : ['cancel'];
  const action = select('bulk-action', actions.map(a => [a, a]), params.get('action') || actions[0]);
  const name = h('input', {id: 'bulk-name', name: 'bulk-name', value: params.get('name') || '', placeholder: 'e.g. retry acme timeouts', autocomplete: 'off'});
  const outcome = h('div', {'aria-live': 'polite', 'data-testid': 'bulk-outcome'});
  title(root, 'Bulk actions',
    h('p.muted', {}, 'Choose the tasks with a filter, count them (dry run), then confirm: the scheduler runs a named job in the background, in batches.'),
    filterForm('bf', filter, f => navigate(`#/bulk${qs({...f, action: action.value, name: name.value})}`), {
      submitLabel: 'Count matching tasks (dry run)',
      extra: [field('Action', action), field('Job name', name)],
    }),
    outcome);
  const jobsBox = h('section', {'aria-labelledby': 'jobs-title'}, h('h2', {id: 'jobs-title'}, 'Bulk jobs'));
  root.append(jobsBox);

  const body = () => ({action: action.value, filter, name: name.value.trim() || undefined});
  if (params.has('action')) {
    try {
      const dry = await post('/v1/bulk', {...body(), dry_run: true});
      const n = Number(dry.count || 0);
      const confirm = h('button', {type: 'button', class: action.value === 'delete' ? 'danger' : null, disabled: n === 0 || null},
        `Confirm: ${action.value} ${n} task${n === 1 ? '' : 's'}`);
      confirm.addEventListener('click', async () => {
        confirm.disabled = true;
        try {
          const job = await post('/v1/bulk', {...body(), dry_run: false});
          say(`Bulk job ${job.name || job.id} started: ${job.total} tasks`);
          outcome.replaceChildren(h('p', {}, `Job ${job.name || job.id} started on ${job.total} tasks.`));
          await renderJobs();
        } catch (e) {
          outcome.append(errorBox(`${action.value} refused: ${e.message}`));
        }
      });
      outcome.replaceChildren(h('p', {'data-testid': 'dry-run-count'}, `${n} task${n === 1 ? '' : 's'} match ${describeFilter(filter)}.`), confirm);
    } catch (e) {
      if (e instanceof ApiError && e.missingRoute) outcome.replaceChildren(notice('Bulk actions are not available on this server yet.'));
      else outcome.replaceChildren(errorBox(`Dry run refused: ${e.message}`));
    }
  }

  const jobsTable = h('div');
  jobsBox.append(jobsTable);
  async function renderJobs() {
    const holder = h('div');
    const jobs = await optional(holder, 'The list of bulk jobs', () => get('/v1/bulk'));
    if (!jobs) { jobsTable.replaceChildren(holder); return; }
    jobsTable.replaceChildren(table('Bulk jobs', [
      {label: 'Name', cell: j => j.name || h('code', {}, j.id)},
      {label: 'Action', cell: j => j.action},
      {label: 'Filter', cell: j => h('code', {}, typeof j.filter === 'string' ? j.filter : describeFilter(j.filter || {}))},
      {label: 'State', cell: j => h('span', {'data-state': j.state}, j.state)},
      {label: 'Progress', cell: jobProgress},
      {label: 'By', cell: j => j.created_by || '—'},
      {label: 'Started', cell: j => time(j.created_at)},
      {label: 'Finished', cell: j => time(j.finished_at)},
    ], jobList(jobs), 'No bulk job yet.'));
  }
  await renderJobs();
  return every(2000, renderJobs);
}
