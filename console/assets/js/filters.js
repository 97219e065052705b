// The task filter shared by the tasks, dead/failed and bulk views: read from
// and written to the URL's hash (so a filtered view can be shared; the token
// is never part of it), and sent to the API with the same names.
import {h, field, select} from './dom.js';
import {session} from './session.js';

export const FILTER_KEYS = ['state', 'type', 'queue', 'tenant', 'priority', 'created_after', 'created_before', 'where'];
const STATES = ['', 'blocked', 'queued', 'scheduled', 'running', 'succeeded', 'failed', 'dead', 'cancelled'];

export function filterFrom(params) {
  const f = {};
  for (const k of FILTER_KEYS) if (params.get(k)) f[k] = params.get(k);
  return f;
}

// datetime-local (the browser's local time) <-> RFC 3339 UTC.
const toLocalInput = rfc => {
  if (!rfc) return '';
  const d = new Date(rfc);
  if (Number.isNaN(d.getTime())) return '';
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
};
const fromLocalInput = v => (v ? new Date(v).toISOString() : '');

// The filter form; onApply(filter) when submitted. `id` prefixes the ids.
export function filterForm(id, filter, onApply, {submitLabel = 'Apply filter', extra = []} = {}) {
  const input = (name, attrs = {}) => h('input', {id: `${id}-${name}`, name, value: filter[name] || '', ...attrs});
  const controls = {
    state: select(`${id}-state`, STATES.map(x => [x, x || 'any']), filter.state),
    type: input('type', {placeholder: 'e.g. sleep', autocomplete: 'off'}),
    queue: input('queue', {placeholder: 'e.g. default', autocomplete: 'off'}),
    tenant: input('tenant', {autocomplete: 'off'}),
    priority: select(`${id}-priority`, [['', 'any'], ...[...Array(10).keys()].map(p => [p, String(p)])], filter.priority),
    created_after: input('created_after', {type: 'datetime-local', value: toLocalInput(filter.created_after)}),
    created_before: input('created_before', {type: 'datetime-local', value: toLocalInput(filter.created_before)}),
    where: input('where', {placeholder: 'args.account = "acme"', autocomplete: 'off', spellcheck: 'false'}),
  };
  const form = h('form.filters', {role: 'search', 'aria-label': 'Task filter'},
    field('State', controls.state),
    field('Type', controls.type),
    field('Queue', controls.queue),
    session.isOperator() ? field('Tenant', controls.tenant) : null,
    field('Priority', controls.priority),
    field('Created after', controls.created_after),
    field('Created before', controls.created_before),
    field('Payload (JSON path)', controls.where, 'wide'),
    extra,
    h('div', {}, h('button', {type: 'submit'}, submitLabel)));
  form.addEventListener('submit', e => {
    e.preventDefault();
    const out = {};
    for (const k of FILTER_KEYS) {
      const c = controls[k];
      if (k === 'tenant' && !session.isOperator()) continue;
      let v = c.value.trim();
      if (k === 'created_after' || k === 'created_before') v = fromLocalInput(v);
      if (v !== '') out[k] = v;
    }
    onApply(out);
  });
  return form;
}

export function describeFilter(f) {
  const parts = FILTER_KEYS.filter(k => f[k]).map(k => `${k} ${k === 'where' ? f[k] : `= ${f[k]}`}`);
  return parts.length ? parts.join(', ') : 'all tasks';
}
