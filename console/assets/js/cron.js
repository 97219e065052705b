// A cron expression in words, for the 5-field syntax fila accepts (and 6
// fields with seconds first, names, lists, ranges, steps, @macros):
// "At 09:30, Monday through Friday". Anything it cannot read comes back as
// the expression itself, never an exception.

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September',
  'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

const MACROS = {
  '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *', '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0', '@daily': '0 0 * * *', '@midnight': '0 0 * * *', '@hourly': '0 * * * *',
};

const pad = n => String(n).padStart(2, '0');

function value(text, names, offset = 0) {
  const i = names ? names.indexOf(text.toUpperCase()) : -1;
  if (i >= 0) return i + offset;
  if (!/^\d+$/.test(text)) throw new Error(`bad value ${text}`);
  return Number(text);
}

// One field as a list of parts: {all}, {step, from, to}, {from, to} or {at}.
function parseField(text, names, offset) {
  return text.split(',').map(part => {
    const [range, stepText] = part.split('/');
    const step = stepText === undefined ? null : value(stepText);
    if (step === 0) throw new Error('step 0');
    if (range === '*' || range === '?') return step ? {every: step} : {all: true};
    const [a, b] = range.split('-');
    const from = value(a, names, offset);
    const to = b === undefined ? (step ? null : from) : value(b, names, offset);
    return {from, to, step};
  });
}

function listWords(items) {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function partWords(p, name, unit) {
  if (p.every) return `every ${p.every} ${unit}s`;
  if (p.step) return `every ${p.step} ${unit}s from ${name(p.from)}${p.to === null ? '' : ` through ${name(p.to)}`}`;
  if (p.from === p.to) return name(p.from);
  return `${name(p.from)} through ${name(p.to)}`;
}

const isAll = parts => parts.length === 1 && parts[0].all;
const single = parts => parts.length === 1 && !parts[0].all && !parts[0].every && !parts[0].step &&
  parts[0].from === parts[0].to ? parts[0].from : null;

export function cronToWords(expression) {
  const text = String(expression || '').trim();
  try {
    const fields = (MACROS[text.toLowerCase()] || text).split(/\s+/);
    if (fields.length !== 5 && fields.length !== 6) throw new Error('field count');
    const [sec, min, hour, dom, mon, dow] = fields.length === 6 ? fields : ['0', ...fields];
    const seconds = parseField(sec);
    const minutes = parseField(min);
    const hours = parseField(hour);
    const days = parseField(dom);
    const months = parseField(mon, MONTH_NAMES, 1);
    const weekdays = parseField(dow, DAY_NAMES, 0);

    let when;
    const m = single(minutes);
    const hr = single(hours);
    const sc = single(seconds);
    if (m !== null && hr !== null) {
      when = `At ${pad(hr)}:${pad(m)}${sc ? `:${pad(sc)}` : ''}`;
    } else {
      const minuteText = isAll(minutes) ? 'Every minute'
        : minutes.length === 1 && minutes[0].every ? `Every ${minutes[0].every} minutes`
          : `At minute ${listWords(minutes.map(p => partWords(p, String, 'minute')))}`;
      const hourText = isAll(hours) ? (isAll(minutes) || minutes[0].every ? '' : ' of every hour')
        : `, ${hours.length === 1 && hours[0].every ? `every ${hours[0].every} hours`
          : `during hour ${listWords(hours.map(p => partWords(p, String, 'hour')))}`}`;
      when = minuteText + hourText;
      if (sc) when = `${when}, at second ${sc}`;
    }
    if (fields.length === 6 && single(seconds) === null) {
      when = isAll(seconds) ? `Every second; ${when.toLowerCase()}`
        : `At second ${listWords(seconds.map(p => partWords(p, String, 'second')))}; ${when.toLowerCase()}`;
    }
    const dayName = n => DAYS[n % 7];
    const dayParts = [];
    if (!isAll(days)) dayParts.push(`on day ${listWords(days.map(p => partWords(p, String, 'day')))} of the month`);
    if (!isAll(weekdays)) dayParts.push(`on ${listWords(weekdays.map(p => partWords(p, dayName, 'day')))}`);
    let out = when;
    // Both restricted: a day matching either fires (Vixie cron).
    if (dayParts.length) out += `, ${dayParts.join(' or ')}`;
    if (!isAll(months)) out += `, in ${listWords(months.map(p => partWords(p, n => MONTHS[n - 1], 'month')))}`;
    return out;
  } catch {
    return text;
  }
}
