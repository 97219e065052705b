// DOM building without innerHTML: every text from the API goes in as text,
// never as markup (no script can come in through a task's payload or error).

const SVG_NS = 'http://www.w3.org/2000/svg';

// h('tag.class', {attr: value, onclick: fn}, child, ...): children are
// nodes, strings (as text), arrays of them, or null/false (skipped).
export function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split('.');
  const el = document.createElement(tag);
  if (classes.length) el.className = classes.join(' ');
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// A table: columns [{label, cell: row => node|text, num}], rows, a caption
// for screen readers.
export function table(caption, columns, rows, empty = 'Nothing to show.') {
  if (!rows.length) return h('p.muted', {}, empty);
  return h('div.table-wrap', {},
    h('table', {'aria-label': caption},
      h('thead', {}, h('tr', {}, columns.map(c => h('th', {scope: 'col', class: c.num ? 'num' : null}, c.label)))),
      h('tbody', {}, rows.map(r => h('tr', {}, columns.map(c => h('td', {class: c.num ? 'num' : null}, c.cell(r))))))));
}

export function badge(state) {
  return h('span', {class: `badge state-${state || 'unknown'}`}, state || '?');
}

export function notice(text) { return h('p.notice', {role: 'note'}, text); }
export function errorBox(text) { return h('p.error', {role: 'alert'}, text); }

// A labelled form control; `control` is an input or select element with an id.
export function field(label, control, cls) {
  return h('label', {class: cls, for: control.id}, label, control);
}

export function select(id, options, value) {
  return h('select', {id, name: id},
    options.map(([v, text]) => h('option', {value: v, selected: String(v) === String(value ?? '') || null}, text)));
}

export function ago(seconds) {
  if (seconds === undefined || seconds === null || Number.isNaN(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

export function time(value) {
  if (!value) return '—';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleString();
}

export function progressOf(p) {
  if (!p || (p.percent === undefined && !p.message)) return '—';
  const pct = p.percent ?? 0;
  return h('span', {}, h('progress', {max: 100, value: pct, 'aria-label': `progress ${pct}%`}), ` ${pct}% `,
    p.message ? h('span.muted', {}, p.message) : null);
}
