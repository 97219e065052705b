// What several views share.
import {h, notice, errorBox} from '../dom.js';
import {ApiError} from '../api.js';

// Runs `load`; a missing route becomes a "not available" notice in `into`
// (and null is returned), other errors propagate.
export async function optional(into, what, load) {
  try {
    return await load();
  } catch (e) {
    if (e instanceof ApiError && e.missingRoute) {
      into.append(notice(`${what} is not available on this server yet.`));
      return null;
    }
    if (e instanceof ApiError && e.forbidden) {
      into.append(notice(`${what}: operators only.`));
      return null;
    }
    throw e;
  }
}

// A button that runs an API action; shows the outcome in the status line
// or an alert next to the button, then calls `after`.
// `label` is the accessible name (e.g. "Pause reports"); `text`, when
// given, the shorter visible one ("Pause") in a row that already names it.
export function actionButton(label, {say, run, after, cls = 'secondary', confirmText, text}) {
  const b = h('button', {type: 'button', class: cls, 'aria-label': text ? label : null}, text || label);
  b.addEventListener('click', async () => {
    if (confirmText && !window.confirm(confirmText)) return;
    b.disabled = true;
    try {
      await run();
      say(`${label}: done`);
      if (after) await after();
    } catch (e) {
      const msg = e instanceof ApiError && e.missingRoute ? `${label}: not available on this server yet`
        : `${label} refused: ${e.message}`;
      b.after(errorBox(msg));
      say(msg);
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

export function title(root, text, ...rest) {
  root.append(h('h1', {}, text), ...rest);
}

// Polls `tick` every `ms` until the view is left: returns the stopper.
export function every(ms, tick) {
  const id = setInterval(() => {
    // Not while the keyboard is on a control of the view: a re-render would move focus away.
    const active = document.activeElement;
    if (active && active.closest('main') && active.matches('button, input, select, a')) return;
    tick().catch(() => {});
  }, ms);
  return () => clearInterval(id);
}
