// 2. Queues: depth by state and priority, oldest age, consumers, rate;
// pause and resume (operators).
import {h, table, ago, field, errorBox} from '../dom.js';
import {get, post, qs} from '../api.js';
import {session} from '../session.js';
import {title, actionButton, every} from './common.js';

const STATES = ['blocked', 'scheduled', 'queued', 'running', 'failed', 'dead'];

// Depth by priority under whichever name the server gives it.
function byPriority(q) {
  const m = q.by_priority || q.depth_by_priority || q.priorities || q.priority_counts;
  if (!m) return '—';
  const entries = Object.entries(m).filter(([, n]) => Number(n) > 0).sort((a, b) => Number(b[0]) - Number(a[0]));
  return entries.length ? entries.map(([p, n]) => `p${p}: ${n}`).join(', ') : '0';
}

// Pause a queue by name, even one that holds no task yet (operators).
function pauseForm(say, after) {
  const name = h('input', {id: 'pause-queue', name: 'pause-queue', autocomplete: 'off', required: true});
  const form = h('form.row', {'aria-label': 'Pause a queue by name'}, field('Queue name', name),
    h('button', {type: 'submit', class: 'secondary'}, 'Pause queue'));
  form.addEventListener('submit', async e => {
    e.preventDefault();
    try {
      await post(`/v1/queues/${encodeURIComponent(name.value.trim())}:pause`);
      say(`Queue ${name.value.trim()} paused`);
      name.value = '';
      await after();
    } catch (err) {
      form.append(errorBox(`Pause refused: ${err.message}`));
    }
  });
  return form;
}

export async function queues({root, say}) {
  const body = h('div');
  title(root, 'Queues', body);
  const render = async () => {
    const data = await get('/v1/queues');
    const list = data.queues || [];
    const depth = q => q.counts || q.depth || q.by_state || {};
    const columns = [
      {label: 'Queue', cell: q => h('a', {href: `#/tasks${qs({queue: q.queue})}`}, q.queue)},
      {label: 'State', cell: q => (q.paused ? h('span.badge.state-cancelled', {}, 'paused') : 'active')},
      ...STATES.map(st => ({label: st, num: true,
        cell: q => (depth(q)[st] ? h('a', {href: `#/tasks${qs({queue: q.queue, state: st})}`}, String(depth(q)[st])) : '0')})),
      {label: 'By priority', cell: byPriority},
      {label: 'Oldest', num: true, cell: q => ago(q.oldest_age_s ?? q.oldest_queued_age_seconds)},
      {label: 'Consumers', num: true, cell: q => (q.consumers === undefined ? '—' : String(q.consumers))},
      {label: 'Rate (/s)', num: true, cell: q => (q.rate === undefined ? '—' : Number(q.rate).toFixed(2))},
    ];
    if (session.isOperator()) {
      columns.push({label: 'Actions', cell: q => actionButton(q.paused ? `Resume ${q.queue}` : `Pause ${q.queue}`, {
        say, text: q.paused ? 'Resume' : 'Pause', run: () => post(`/v1/queues/${encodeURIComponent(q.queue)}:${q.paused ? 'resume' : 'pause'}`), after: render})});
    }
    body.replaceChildren(table('Queues', columns, list, 'No queue holds a task.'));
  };
  if (session.isOperator()) root.append(h('h2', {}, 'Pause another queue'), pauseForm(say, render));
  await render();
  return every(5000, render);
}
