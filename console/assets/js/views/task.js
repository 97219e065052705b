// 4. Task detail: state, every attempt, payload and result, live progress
// and state over SSE (GET /v1/tasks/{id}/events), the tree (parent,
// children, dependencies) as an SVG graph.
import {h, s, table, badge, time, progressOf} from '../dom.js';
import {get, post, del} from '../api.js';
import {watch} from '../sse.js';
import {session} from '../session.js';
import {title, actionButton, optional} from './common.js';

const TERMINAL = new Set(['succeeded', 'failed', 'dead', 'cancelled']);
const STATE_FILL = {succeeded: '#d8f0dd', failed: '#fde0e0', dead: '#fde0e0', running: '#dce8fb',
  cancelled: '#eceff2', queued: '#fff1cc', scheduled: '#fff1cc', blocked: '#fff1cc'};

function decodeBytes(b64) {
  if (!b64) return '';
  try {
    const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
    return new TextDecoder('utf-8', {fatal: true}).decode(bytes);
  } catch {
    return `(${b64.length * 0.75 | 0} bytes, not text) ${b64.slice(0, 200)}`;
  }
}

function pretty(json) {
  try { return JSON.stringify(JSON.parse(json), null, 2); } catch { return json || ''; }
}

// Nodes in rows by depth; edges parent → child (solid) and dependency →
// dependent (dashed). At most 200 nodes drawn (the rest are counted).
export function treeGraph(nodes, current, parentId) {
  const MAX = 200; const NW = 150; const NH = 40; const GX = 20; const GY = 50;
  const shown = nodes.slice(0, MAX);
  const rows = new Map();
  if (parentId && !shown.some(n => n.id === parentId)) shown.unshift({id: parentId, type: 'parent', state: '', depth: -1});
  for (const n of shown) {
    const d = n.depth ?? 0;
    if (!rows.has(d)) rows.set(d, []);
    rows.get(d).push(n);
  }
  const depths = [...rows.keys()].sort((a, b) => a - b);
  const width = Math.max(...[...rows.values()].map(r => r.length)) * (NW + GX) + GX;
  const height = depths.length * (NH + GY) + GY / 2;
  const pos = new Map();
  depths.forEach((d, row) => rows.get(d).forEach((n, i) => pos.set(n.id, {x: GX + i * (NW + GX), y: GY / 2 + row * (NH + GY)})));
  const svg = s('svg', {viewBox: `0 0 ${width} ${height}`, width, role: 'img',
    'aria-label': `Task tree: ${shown.length} tasks${nodes.length > MAX ? ` of ${nodes.length}` : ''}`});
  svg.append(s('defs', {}, s('marker', {id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto'},
    s('path', {d: 'M0,0 L10,5 L0,10 z', fill: '#4a5361'}))));
  const edge = (from, to, dashed) => {
    const a = pos.get(from); const b = pos.get(to);
    if (!a || !b) return;
    svg.append(s('line', {x1: a.x + NW / 2, y1: a.y + NH, x2: b.x + NW / 2, y2: b.y, stroke: '#4a5361',
      'stroke-width': 1.5, 'stroke-dasharray': dashed ? '5 4' : null, 'marker-end': 'url(#arrow)'}));
  };
  for (const n of shown) {
    const parent = n.parent_id || (n.depth === 0 && parentId ? parentId : '');
    if (parent) edge(parent, n.id, false);
    for (const dep of n.depends_on || []) edge(dep, n.id, true);
  }
  for (const n of shown) {
    const p = pos.get(n.id);
    const g = s('a', {href: `#/task/${encodeURIComponent(n.id)}`, 'aria-label': `${n.type} ${n.state} ${n.id}`},
      s('rect', {x: p.x, y: p.y, width: NW, height: NH, rx: 6, fill: STATE_FILL[n.state] || '#fff',
        stroke: n.id === current ? '#c2410c' : '#4a5361', 'stroke-width': n.id === current ? 3 : 1}),
      s('text', {x: p.x + 8, y: p.y + 16}, `${n.type}`.slice(0, 20)),
      s('text', {x: p.x + 8, y: p.y + 32}, `${n.state || ''} · ${n.id.slice(0, 8)}`));
    svg.append(g);
  }
  return h('div.graph', {}, svg, h('p.muted', {}, 'Solid arrows: parent → child. Dashed: dependency → dependent.',
    nodes.length > MAX ? ` Showing ${MAX} of ${nodes.length} tasks.` : ''));
}

function attemptsTable(t) {
  return table('Attempts', [
    {label: '#', num: true, cell: a => String(a.attempt)},
    {label: 'Worker', cell: a => a.worker || '—'},
    {label: 'Started', cell: a => time(a.started_at)},
    {label: 'Finished', cell: a => time(a.finished_at)},
    {label: 'Outcome', cell: a => (a.outcome ? badge(a.outcome === 'succeeded' ? 'succeeded' : a.outcome === 'cancelled' ? 'cancelled' : 'failed') : 'running')},
    {label: 'Error', cell: a => a.error || ''},
  ], t.attempts || [], 'No attempt yet.');
}

export async function task({root, args, say}) {
  const id = args[0] || '';
  const t = await get(`/v1/tasks/${encodeURIComponent(id)}`);
  const stateBox = h('span', {'data-testid': 'task-state'}, badge(t.state));
  const progressBox = h('span', {'data-testid': 'task-progress'}, progressOf(t.progress));
  const liveBox = h('span.muted', {'aria-live': 'polite'});
  const attemptBox = h('dd', {'data-testid': 'task-attempt'}, `${t.attempt ?? 0} of ${t.max_attempts ?? '?'}`);
  const startedBox = h('dd', {}, time(t.started_at));
  const attemptsBox = h('div', {}, attemptsTable(t));
  const reload = () => { location.hash = `#/task/${encodeURIComponent(id)}?r=${Date.now()}`; };
  const actions = h('div.row');
  if (!TERMINAL.has(t.state)) {
    actions.append(actionButton('Cancel task', {say, run: () => post(`/v1/tasks/${encodeURIComponent(id)}:cancel`), after: reload}));
  }
  if (session.isOperator() && ['failed', 'dead', 'cancelled'].includes(t.state)) {
    actions.append(actionButton('Retry task', {say, run: () => post(`/v1/tasks/${encodeURIComponent(id)}:retry`), after: reload}));
  }
  if (session.isOperator() && TERMINAL.has(t.state)) {
    actions.append(actionButton('Delete task', {say, cls: 'danger', confirmText: `Delete task ${id}?`,
      run: () => del(`/v1/tasks/${encodeURIComponent(id)}`), after: () => { location.hash = '#/tasks'; }}));
  }
  title(root, `Task ${id}`,
    h('dl.kv', {},
      h('dt', {}, 'State'), h('dd', {}, stateBox, ' ', liveBox),
      h('dt', {}, 'Progress'), h('dd', {}, progressBox),
      h('dt', {}, 'Type'), h('dd', {}, t.type),
      h('dt', {}, 'Queue'), h('dd', {}, t.queue),
      h('dt', {}, 'Priority'), h('dd', {}, String(t.priority ?? 0)),
      h('dt', {}, 'Tenant'), h('dd', {}, t.tenant || '—'),
      h('dt', {}, 'Attempt'), attemptBox,
      h('dt', {}, 'Created'), h('dd', {}, time(t.created_at)),
      h('dt', {}, 'Started'), startedBox,
      h('dt', {}, 'Finished'), h('dd', {}, time(t.finished_at)),
      t.parent_id ? [h('dt', {}, 'Parent'), h('dd', {}, h('a', {href: `#/task/${encodeURIComponent(t.parent_id)}`}, t.parent_id))] : null,
      (t.depends_on || []).length ? [h('dt', {}, 'Depends on'), h('dd', {},
        t.depends_on.map(d => [h('a', {href: `#/task/${encodeURIComponent(d)}`}, d.slice(0, 8)), ' ']))] : null,
      t.last_error ? [h('dt', {}, 'Last error'), h('dd', {}, t.last_error)] : null),
    actions,
    h('h2', {}, 'Attempts'), attemptsBox,
    h('h2', {}, 'Payload'), h('pre', {'data-testid': 'payload'}, pretty(t.payload_json)),
    h('h2', {}, 'Result'), h('pre', {}, t.result ? pretty(decodeBytes(t.result)) : '—'));

  const treeBox = h('section', {'aria-labelledby': 'tree-title'}, h('h2', {id: 'tree-title'}, 'Tree'));
  root.append(treeBox);
  const tree = await optional(treeBox, 'The task tree', () => get(`/v1/tasks/${encodeURIComponent(id)}/tree`));
  if (tree) {
    const nodes = tree.nodes || [];
    if (nodes.length <= 1 && !t.parent_id && !(t.depends_on || []).length) treeBox.append(h('p.muted', {}, 'No parent, children or dependencies.'));
    else treeBox.append(treeGraph(nodes, id, t.parent_id));
  }

  if (TERMINAL.has(t.state)) return null;
  // Live: every state and progress change pushed by the scheduler.
  liveBox.textContent = '(live)';
  let lastState = t.state;
  const stream = watch(`/v1/tasks/${encodeURIComponent(id)}/events`, ({data}) => {
    if (data.state) stateBox.replaceChildren(badge(data.state));
    if (data.state && data.state !== lastState && !TERMINAL.has(data.state)) {
      // A new attempt (running, or queued again for a retry): its number,
      // start and row, read once per change of state.
      lastState = data.state;
      get(`/v1/tasks/${encodeURIComponent(id)}`).then(now => {
        attemptBox.replaceChildren(`${now.attempt ?? 0} of ${now.max_attempts ?? '?'}`);
        startedBox.replaceChildren(time(now.started_at));
        attemptsBox.replaceChildren(attemptsTable(now));
      }, () => {});
    }
    if (data.progress) progressBox.replaceChildren(progressOf(data.progress));
    if (TERMINAL.has(data.state)) {
      liveBox.textContent = '(finished)';
      // The attempts, times and result of the end: the view drawn anew.
      setTimeout(() => { if (location.hash.startsWith(`#/task/${encodeURIComponent(id)}`)) reload(); }, 500);
    }
  });
  stream.done.then(() => { if (liveBox.textContent === '(live)') liveBox.textContent = ''; },
    () => { liveBox.textContent = '(live updates unavailable)'; });
  return () => stream.stop();
}

