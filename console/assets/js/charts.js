// Small inline SVG line charts (no library): a few series over time.
import {h, s} from './dom.js';

const COLORS = ['#0a4fb4', '#a4161a', '#1b6e2e', '#7a4b00', '#6b21a8', '#0e7490'];
const W = 320; const H = 140; const L = 40; const R = 8; const T = 10; const B = 22;

function fmt(v, unit) {
  if (unit === '%') return `${(v * 100).toFixed(v < 0.1 ? 1 : 0)}%`;
  if (unit === 'ms') return v >= 1000 ? `${(v / 1000).toFixed(1)}s` : `${Math.round(v)}ms`;
  return v >= 100 ? String(Math.round(v)) : String(Math.round(v * 10) / 10);
}

// series: [{name, points: [[timeMs, value]], dashed}]
export function lineChart(title, series, unit = '') {
  const all = series.flatMap(x => x.points);
  const summary = series.map(x => `${x.name}: last ${x.points.length ? fmt(x.points[x.points.length - 1][1], unit) : 'none'}`).join('; ');
  const svg = s('svg', {viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${title}. ${summary}`});
  svg.append(s('line', {class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B}),
    s('line', {class: 'axis', x1: L, y1: T, x2: L, y2: H - B}));
  if (!all.length) {
    svg.append(s('text', {x: W / 2, y: H / 2, 'text-anchor': 'middle'}, 'no data in this range'));
  } else {
    const t0 = Math.min(...all.map(p => p[0])); const t1 = Math.max(...all.map(p => p[0]));
    const vmax = Math.max(...all.map(p => p[1]), unit === '%' ? 0.01 : 1);
    const x = t => L + (t1 === t0 ? (W - L - R) / 2 : ((t - t0) / (t1 - t0)) * (W - L - R));
    const y = v => H - B - (v / vmax) * (H - B - T);
    svg.append(s('text', {x: L - 4, y: T + 8, 'text-anchor': 'end'}, fmt(vmax, unit)),
      s('text', {x: L - 4, y: H - B, 'text-anchor': 'end'}, '0'),
      s('text', {x: L, y: H - 6}, new Date(t0).toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'})),
      s('text', {x: W - R, y: H - 6, 'text-anchor': 'end'},
        new Date(t1).toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'})));
    series.forEach((ser, i) => {
      if (!ser.points.length) return;
      const pts = ser.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
      const attrs = {points: pts, fill: 'none', stroke: COLORS[i % COLORS.length], 'stroke-width': 2};
      if (ser.dashed) attrs['stroke-dasharray'] = '4 3';
      svg.append(ser.points.length === 1
        ? s('circle', {cx: x(ser.points[0][0]), cy: y(ser.points[0][1]), r: 3, fill: COLORS[i % COLORS.length]})
        : s('polyline', attrs));
    });
  }
  const legend = h('div.legend', {}, series.map((ser, i) => h('span', {},
    h('span.swatch', {'aria-hidden': 'true', 'data-color': i}), ser.name)));
  // Swatch colours through the CSSOM: the policy allows no inline style attribute.
  legend.querySelectorAll('.swatch').forEach(el => { el.style.background = COLORS[Number(el.dataset.color) % COLORS.length]; });
  return h('figure.card.chart', {}, h('h3', {}, title), svg, legend);
}
