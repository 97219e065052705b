// Server-Sent Events over fetch(): EventSource cannot send an
// Authorization header, and the token must not go into the URL.
import {session} from './session.js';

// Calls onEvent({event, data}) for each event until the stream ends or
// stop() is called. Returns {stop, done} (done: a promise of the end).
export function watch(path, onEvent) {
  const controller = new AbortController();
  const done = (async () => {
    const res = await fetch(path, {
      headers: {'Authorization': `Bearer ${session.token()}`, 'Accept': 'text/event-stream'},
      cache: 'no-store', credentials: 'omit', signal: controller.signal});
    if (!res.ok || !res.body) throw new Error(`event stream: HTTP ${res.status}`);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const {value, done: ended} = await reader.read();
      if (ended) return;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const message = {event: 'message', data: ''};
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) message.event = line.slice(6).trim();
          else if (line.startsWith('data:')) message.data += line.slice(5).trimStart();
        }
        if (message.data) {
          try { onEvent({event: message.event, data: JSON.parse(message.data)}); } catch { /* not JSON: skipped */ }
        }
      }
    }
  })();
  done.catch(() => {});
  return {stop: () => controller.abort(), done};
}
