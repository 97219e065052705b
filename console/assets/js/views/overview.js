// 1. Overview: throughput, failure rate, wait (enqueue→start) and run time
// p50/p95 per queue and type over time (GET /v1/stats), the backlog and
// oldest task per queue.
import {h, table, ago, field, select} from '../dom.js';
import {get, qs} from '../api.js';
import {lineChart} from '../charts.js';
import {optional, title, every} from './common.js';

const RANGES = [['15m', 'last 15 minutes', 30], ['1h', 'last hour', 60], ['6h', 'last 6 hours', 300],
  ['24h', 'last 24 hours', 900]];

export async function overview({root, params, navigate}) {
  const since = RANGES.find(r => r[0] === params.get('since')) || RANGES[1];
  const key = params.get('series') || '';
  const range = select('ov-since', RANGES.map(r => [r[0], r[1]]), since[0]);
  const body = h('div');
  title(root, 'Overview', h('div.row', {}, field('Time range', range)), body);

  const render = async () => {
    const stats = await optional(h('div'), 'Statistics', () => get(`/v1/stats${qs({since: since[0], bucket: since[2]})}`));
    const out = [];
    if (!stats) {
      out.push(h('p.notice', {role: 'note'}, 'Charts are not available: this server has no /v1/stats route yet.'));
    } else {
      const series = stats.series || [];
      const keys = [...new Set(series.map(p => `${p.queue} · ${p.type}`))].sort();
      const chosen = keys.includes(key) ? key : '';
      const pick = select('ov-series', [['', 'all queues and types'], ...keys.map(k => [k, k])], chosen);
      pick.addEventListener('change', () => navigate(`#/overview${qs({since: since[0], series: pick.value})}`));
      const rows = chosen ? series.filter(p => `${p.queue} · ${p.type}` === chosen) : series;
      const byTime = new Map();
      for (const p of rows) {
        const t = Date.parse(p.bucket_start);
        const b = byTime.get(t) || {finished: 0, failed: 0, wait50: 0, wait95: 0, run50: 0, run95: 0, weight: 0};
        const n = Number(p.finished || 0) + Number(p.failed || 0);
        b.finished += Number(p.finished || 0);
        b.failed += Number(p.failed || 0);
        // Over several queues and types: percentiles weighted by tasks
        // (an approximation, said in the legend), p95 the worst.
        b.wait50 += Number(p.wait_p50_ms || 0) * n; b.run50 += Number(p.run_p50_ms || 0) * n;
        b.wait95 = Math.max(b.wait95, Number(p.wait_p95_ms || 0)); b.run95 = Math.max(b.run95, Number(p.run_p95_ms || 0));
        b.weight += n;
        byTime.set(t, b);
      }
      const ts = [...byTime.keys()].sort((a, b) => a - b);
      const pts = f => ts.map(t => [t, f(byTime.get(t))]);
      const perSecond = since[2];
      const p50 = chosen ? 'p50' : 'p50 (weighted)'; const p95 = chosen ? 'p95' : 'p95 (worst)';
      out.push(h('div.row', {}, field('Queue and type', pick)),
        h('div.cards', {},
          lineChart('Throughput (tasks/s)', [{name: 'finished', points: pts(b => b.finished / perSecond)}]),
          lineChart('Failure rate', [{name: 'failed / finished', points: pts(b => (b.finished ? b.failed / b.finished : 0))}], '%'),
          lineChart('Wait, enqueue → start', [{name: p50, points: pts(b => (b.weight ? b.wait50 / b.weight : 0))},
            {name: p95, points: pts(b => b.wait95), dashed: true}], 'ms'),
          lineChart('Run time', [{name: p50, points: pts(b => (b.weight ? b.run50 / b.weight : 0))},
            {name: p95, points: pts(b => b.run95), dashed: true}], 'ms')));
      if (stats.queues) {
        out.push(h('h2', {}, 'Backlog'), table('Backlog by queue', [
          {label: 'Queue', cell: q => h('a', {href: `#/tasks${qs({queue: q.queue, state: 'queued'})}`}, q.queue)},
          {label: 'Backlog', num: true, cell: q => String(q.backlog ?? 0)},
          {label: 'Oldest task', num: true, cell: q => ago(q.oldest_age_s)},
        ], stats.queues, 'No queue holds a task.'));
      }
    }
    if (!stats || !stats.queues) {
      const queues = await optional(h('div'), 'Queues', () => get('/v1/queues'));
      if (queues) {
        out.push(h('h2', {}, 'Backlog'), table('Backlog by queue', [
          {label: 'Queue', cell: q => q.queue},
          {label: 'Queued', num: true, cell: q => String(q.counts?.queued ?? 0)},
          {label: 'Running', num: true, cell: q => String(q.counts?.running ?? 0)},
          {label: 'Oldest queued', num: true, cell: q => ago(q.oldest_age_s ?? q.oldest_queued_age_seconds)},
        ], queues.queues || [], 'No queue holds a task.'));
      }
    }
    body.replaceChildren(...out);
  };
  range.addEventListener('change', () => navigate(`#/overview${qs({since: range.value, series: key})}`));
  await render();
  return every(10000, render);
}
