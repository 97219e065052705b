// 6. Schedules: the cron expression in words, next and last fire, missed
// slots; pause, resume, run now.
import {h, table, time} from '../dom.js';
import {get, post} from '../api.js';
import {session} from '../session.js';
import {cronToWords} from '../cron.js';
import {title, actionButton} from './common.js';

export async function schedules({root, say, navigate}) {
  const data = await get('/v1/schedules');
  const list = data.schedules || [];
  const path = (sc, verb) => `/v1/schedules/${encodeURIComponent(sc.name)}:${verb}`;
  const again = () => navigate(`#/schedules?r=${Date.now()}`);
  const columns = [
    {label: 'Name', cell: sc => sc.name},
    {label: 'When', cell: sc => h('span', {}, cronToWords(sc.cron), h('div.muted', {}, h('code', {}, sc.cron),
      sc.timezone ? ` (${sc.timezone})` : ' (UTC)'))},
    {label: 'Task', cell: sc => `${sc.type} → ${sc.queue || 'default'}`},
    {label: 'Next fire', cell: sc => (sc.paused ? 'paused' : time(sc.next_fire ?? sc.next_fire_at))},
    {label: 'Last fire', cell: sc => {
      const last = sc.last_fire ?? sc.last_slot_at;
      return h('span', {}, time(last), sc.last_task_id ? [' ', h('a', {href: `#/task/${encodeURIComponent(sc.last_task_id)}`}, 'task')] : null);
    }},
    {label: 'Fired', num: true, cell: sc => String(sc.fired ?? 0)},
    {label: 'Missed', num: true, cell: sc => String(sc.missed ?? 0)},
    {label: 'Actions', cell: sc => h('div.row', {},
      actionButton(sc.paused ? `Resume ${sc.name}` : `Pause ${sc.name}`, {say, text: sc.paused ? 'Resume' : 'Pause', run: () => post(path(sc, sc.paused ? 'resume' : 'pause')), after: again}),
      session.isOperator() ? actionButton(`Run ${sc.name} now`, {say, text: 'Run now', run: () => post(path(sc, 'run')), after: again}) : null)},
  ];
  title(root, 'Schedules', table('Schedules', columns, list, 'No schedule yet (fila schedules add).'));
}
