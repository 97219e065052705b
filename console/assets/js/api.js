// Calls to the /v1 API with the session's token, only ever in the
// Authorization header (never in a URL, never logged).
import {session} from './session.js';

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code || '';
  }
  // The server has no such route (an older fila-scheduler): the view says
  // "not available" instead of breaking.
  get missingRoute() {
    return this.status === 405 || this.status === 501 ||
      (this.status === 404 && /no such resource|unknown action/.test(this.message));
  }
  get forbidden() { return this.status === 403; }
}

export async function call(method, path, body) {
  const headers = {'Authorization': `Bearer ${session.token()}`, 'Accept': 'application/json'};
  const init = {method, headers, cache: 'no-store', credentials: 'omit'};
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = {message: text}; }
  if (res.status === 401) session.expired();
  if (!res.ok) throw new ApiError(res.status, data);
  return data ?? {};
}

export const get = path => call('GET', path);
export const post = (path, body) => call('POST', path, body ?? {});
export const del = path => call('DELETE', path);

// A query string from an object, skipping empty values.
// Spaces as %20, not '+': the server decodes percent escapes only (a '+'
// in `where=args.a = "b c"` would reach it as a plus).
export function qs(params) {
  const parts = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}
