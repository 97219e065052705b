// A fila HTTP handler in Node (node:http, no dependencies; docs/handlers.md).
//
// fila's worker POSTs each task of the type `example.thumbnail` here:
//   {id, type, type_version, attempt, tenant, payload: {image, width}, deadline, callback}
// and the answer's status says what happened: 2xx done (the JSON body is the
// task's result), 4xx failed for good, 408/409/429/5xx try again (no sooner
// than Retry-After). Progress goes to the attempt's callback URL.
//
//   PORT=8082 node handler.js
'use strict';

const http = require('node:http');

// Images we are "too busy" for the first time we see them (to show a retry).
const busyOnce = new Set();
const MAX_BODY = 1 << 20;

function reply(res, status, body, headers = {}) {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(data),
    ...headers,
  });
  res.end(data);
}

// POST <callback>/progress; a failure here must not fail the task.
async function reportProgress(callback, percent, message) {
  if (!callback) return;
  try {
    const r = await fetch(`${callback}/progress`, {
      method: 'POST',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({percent, message}),
      signal: AbortSignal.timeout(5000),
    });
    console.log(`progress ${percent}%: ${r.status}`);  // 410: this attempt has ended
  } catch (e) {
    console.log(`progress ${percent}% refused: ${e.message}`);
  }
}

async function handle(task, res, closed) {
  const payload = task.payload || {};
  const {image = '', width} = payload;
  console.log(`task ${task.id} attempt ${task.attempt}: ${JSON.stringify(payload)}`);
  if (!image || !Number.isInteger(width) || width <= 0) {
    // 4xx: the task is wrong; retrying will not help.
    return reply(res, 422, {error: 'width must be a positive integer and image non-empty'});
  }
  if (image.startsWith('busy') && !busyOnce.has(image)) {
    busyOnce.add(image);
    // 503 + Retry-After: fila tries again, not sooner than 1 s.
    return reply(res, 503, {error: 'too busy, come back later'}, {'Retry-After': '1'});
  }
  await reportProgress(task.callback, 50, `resizing ${image}`);
  await new Promise((resolve) => setTimeout(resolve, 200));  // the work
  if (closed()) return;  // the worker gave up (deadline or cancel): stop
  const dot = image.lastIndexOf('.');
  const thumbnail = dot > 0 ? `${image.slice(0, dot)}-${width}${image.slice(dot)}` : `${image}-${width}.png`;
  reply(res, 200, {thumbnail});
}

const server = http.createServer((req, res) => {
  if (req.method !== 'POST') return reply(res, 405, {error: 'POST tasks here'});
  let size = 0;
  const chunks = [];
  let gone = false;
  res.on('close', () => { gone = !res.writableFinished; });
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) {
      reply(res, 413, {error: 'task too large'});
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    let task;
    try {
      task = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (e) {
      return reply(res, 400, {error: 'the task is not JSON'});
    }
    handle(task, res, () => gone).catch((e) => reply(res, 500, {error: String(e.message || e)}));
  });
});
server.keepAliveTimeout = 60000;  // the worker reuses connections

const port = Number(process.env.PORT || 8082);
server.listen(port, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
