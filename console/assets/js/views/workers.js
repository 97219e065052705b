// 5. Workers: queues, slots, running tasks with progress, last heartbeat,
// version; drain (operators). GET /v1/workers is operators' only.
import {h, table, ago, progressOf} from '../dom.js';
import {get, post} from '../api.js';
import {session} from '../session.js';
import {title, actionButton, optional, every} from './common.js';

export async function workers({root, say}) {
  const body = h('div');
  title(root, 'Workers', body);
  const render = async () => {
    const holder = h('div');
    const data = await optional(holder, 'The workers view', () => get('/v1/workers'));
    if (!data) { body.replaceChildren(holder); return; }
    const list = data.workers || [];
    const heartbeat = w => (w.last_heartbeat ? `${ago((Date.now() - Date.parse(w.last_heartbeat)) / 1000)} ago`
      : `${ago(w.heartbeat_age_seconds)} ago`);
    const columns = [
      {label: 'Worker', cell: w => h('span', {}, h('code', {}, w.id), w.hostname ? h('div.muted', {}, `${w.hostname} pid ${w.pid ?? '?'}`) : null)},
      {label: 'State', cell: w => (w.draining ? 'draining' : w.deregistered ? 'gone' : w.stale ? 'stale' : 'live')},
      {label: 'Queues', cell: w => (w.queues || []).join(', ')},
      {label: 'Slots', num: true, cell: w => `${(w.running || []).length}/${w.slots ?? w.concurrency ?? '?'}`},
      {label: 'Running', cell: w => ((w.running || []).length ? h('ul', {}, w.running.map(r => h('li', {},
        h('a', {href: `#/task/${encodeURIComponent(r.id)}`}, r.type, ' ', h('code', {}, r.id.slice(0, 8))), ' ', progressOf(r.progress)))) : '—')},
      {label: 'Heartbeat', cell: heartbeat},
      {label: 'Version', cell: w => w.version || '—'},
      {label: 'Done', num: true, cell: w => `${w.succeeded ?? 0} ok / ${w.failed ?? 0} failed`},
    ];
    if (session.isOperator()) {
      columns.push({label: 'Actions', cell: w => (w.draining || w.stale ? '' : actionButton(`Drain worker ${w.id}`, {
        say, text: 'Drain', confirmText: `Drain worker ${w.id}? It finishes its running tasks and takes no new ones.`,
        run: () => post(`/v1/workers/${encodeURIComponent(w.id)}:drain`), after: render}))});
    }
    body.replaceChildren(table('Workers', columns, list, 'No worker is registered.'),
      data.workers_hidden ? h('p.muted', {}, `${data.workers_hidden} long-silent workers hidden.`) : '');
  };
  await render();
  return every(5000, render);
}
