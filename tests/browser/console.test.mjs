// The web console in headless Chromium (playwright-core driving Debian's
// chromium) against the real stack that console-test.sh started.
//   node console.test.mjs core|api
// Exit 0: every scenario passed; 1: one failed; 77: none failed but some
// were skipped (their reasons printed), e.g. a route of the console API the
// server does not have yet.
import {createRequire} from 'node:module';
import {execFileSync} from 'node:child_process';
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import assert from 'node:assert/strict';

const env = name => { const v = process.env[name]; if (!v) throw new Error(`${name} is not set`); return v; };
const suite = process.argv[2] || 'core';
const API = env('FILA_CONSOLE_API');
const PRODUCER = env('FILA_PRODUCER_TOKEN');
const OPERATOR = env('FILA_OPERATOR_TOKEN');
const SHOTS = env('FILA_SCREENSHOTS');
const Q = {live: env('FILA_Q_LIVE'), pause: env('FILA_Q_PAUSE'), bulk: env('FILA_Q_BULK'), idle: env('FILA_Q_IDLE')};
const {chromium} = createRequire(join(env('FILA_NODE_DIR'), 'package.json'))('playwright-core');

const started = Date.now();
const log = (...a) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s]`, ...a);
const sleep = ms => new Promise(r => setTimeout(r, ms));
class Skip extends Error {}

function sql(query) {
  return execFileSync('psql', ['-X', '-q', '-t', '-A', env('FILA_DATABASE_URL'), '-c', query], {encoding: 'utf8'}).trim();
}

async function api(method, path, token, body) {
  const res = await fetch(API + path, {method, headers: {Authorization: `Bearer ${token}`,
    ...(body ? {'Content-Type': 'application/json'} : {})}, body: body ? JSON.stringify(body) : undefined});
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  return {status: res.status, data, headers: res.headers};
}
const missing = r => r.status === 405 || (r.status === 404 && /no such resource|unknown action/.test(r.data?.message || ''));

async function waitFor(what, fn, ms = 15000, every = 200) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    await sleep(every);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
}

async function enqueue(token, task) {
  const r = await api('POST', '/v1/tasks', token, task);
  assert.ok(r.status === 201 || r.status === 200, `enqueue answered ${r.status}: ${JSON.stringify(r.data)}`);
  return r.data.id;
}

// --- browser --------------------------------------------------------------

const browser = await chromium.launch({executablePath: env('FILA_CHROMIUM'), headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage']});
const requests = [];  // every URL the pages asked for: no token may be in one
const cspViolations = [];

async function newPage(viewport = {width: 1280, height: 860}) {
  const context = await browser.newContext({viewport});
  const page = await context.newPage();
  page.on('request', r => requests.push({url: r.url(), auth: r.headers().authorization || ''}));
  page.on('dialog', d => d.accept());
  page.on('console', m => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });
  page.on('pageerror', e => cspViolations.push(`page error: ${e.message}`));
  page.setDefaultTimeout(10000);
  return page;
}

async function signIn(page, token) {
  await page.goto(`${API}/ui/`);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', {name: 'Sign in'}).click();
  await page.locator('#who-text').waitFor({state: 'visible'});
  return page.locator('#who-text').textContent();
}

async function view(page, hash, heading) {
  await page.evaluate(h => { location.hash = h; }, hash);
  await page.getByRole('heading', {level: 1, name: heading}).waitFor();
  // Briefly: a view with an open event stream is never idle.
  await page.waitForLoadState('networkidle', {timeout: 1500}).catch(() => {});
}

async function shot(page, name, fullPage = false) {
  await page.screenshot({path: join(SHOTS, `${name}.png`), fullPage});
}

// Accessible basics on the current view: every control has a label, the
// landmarks exist, and text contrasts at least 4.5:1 with its background.
async function checkAccessibility(page, where) {
  const problems = await page.evaluate(() => {
    const out = [];
    for (const el of document.querySelectorAll('input, select, textarea')) {
      if (el.type === 'hidden' || el.closest('[hidden]')) continue;
      if (!(el.labels && el.labels.length) && !el.getAttribute('aria-label')) out.push(`unlabelled ${el.tagName} #${el.id}`);
    }
    for (const sel of ['header', 'nav', 'main']) if (!document.querySelector(sel)) out.push(`no <${sel}>`);
    const rgb = c => (c.match(/[\d.]+/g) || []).map(Number);
    const lum = ([r, g, b]) => {
      const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const background = el => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const seen = new Set();
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!n.textContent.trim() || seen.has(el) || el.closest('svg, [hidden], noscript')) continue;
      seen.add(el);
      const r = el.getBoundingClientRect();
      if (!r.width || !r.height) continue;
      const fg = rgb(getComputedStyle(el).color).slice(0, 3);
      const bg = background(el);
      const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
      const ratio = (a + 0.05) / (b + 0.05);
      if (ratio < 4.5) out.push(`contrast ${ratio.toFixed(2)} for "${n.textContent.trim().slice(0, 30)}"`);
    }
    return out;
  });
  assert.deepEqual(problems, [], `accessibility problems on ${where}`);
}

// --- scenarios ------------------------------------------------------------

const results = [];
async function scenario(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push({name, status: 'pass'});
    log(`PASS ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    if (e instanceof Skip) {
      results.push({name, status: 'skip', reason: e.message});
      log(`SKIP ${name}: ${e.message}`);
    } else {
      results.push({name, status: 'fail', reason: e.stack || String(e)});
      log(`FAIL ${name}: ${e.stack || e}`);
      let i = 0;
      for (const page of browser.contexts().flatMap(c => c.pages())) {
        await page.screenshot({path: join(SHOTS, `FAILED-${suite}-${results.length}-${i++}.png`), fullPage: true}).catch(() => {});
        log(`  page ${page.url()}: ${(await page.locator('main').innerText().catch(() => '')).slice(0, 600).replace(/\n/g, ' | ')}`);
      }
    }
  }
}

async function core() {
  await scenario('the /ui assets carry the security headers', async () => {
    const page = await api('GET', '/ui/', '');
    assert.equal(page.status, 200);
    const csp = page.headers.get('content-security-policy') || '';
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    assert.match(page.headers.get('cache-control') || '', /no-store/);
    assert.match(page.headers.get('content-type') || '', /^text\/html/);
    assert.doesNotMatch(page.data, /<script(?![^>]*\bsrc=)[^>]*>/, 'an inline script in index.html');
    const js = await api('GET', '/ui/js/app.js', '');
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') || '', /^text\/javascript/);
    // Only the embedded files: no path leads out of them.
    for (const path of ['/ui/../v1/tasks', '/ui/%2e%2e/%2e%2e/etc/passwd', '/ui/js/../../v1/queues', '/ui/nope.js']) {
      const r = await api('GET', path, '');
      assert.ok(r.status === 404 || r.status === 401, `${path} answered ${r.status}`);
      assert.doesNotMatch(typeof r.data === 'string' ? r.data : JSON.stringify(r.data), /root:|"queues"/);
    }
    assert.equal((await api('POST', '/ui/', '')).status, 405);
    assert.equal((await api('GET', '/v1/queues', '')).status, 401, '/v1 still needs a token');
  });

  await scenario('cron expressions in words', async () => {
    const page = await newPage();
    await page.goto(`${API}/ui/`);
    const words = await page.evaluate(async () => {
      const {cronToWords} = await import('/ui/js/cron.js');
      return ['30 9 * * 1-5', '*/15 * * * *', '0 0 1 1 *', '@daily', '0 */2 * * *', '0 12 1,15 * *',
        '5 4 * * SUN', '0 0 * JAN-MAR MON', 'not a cron', '0 30 9 * * *'].map(cronToWords);
    });
    assert.deepEqual(words, ['At 09:30, on Monday through Friday', 'Every 15 minutes', 'At 00:00, on day 1 of the month, in January',
      'At 00:00', 'At minute 0, every 2 hours', 'At 12:00, on day 1 and 15 of the month', 'At 04:05, on Sunday',
      'At 00:00, on Monday, in January through March', 'not a cron', 'At 09:30']);
    await page.context().close();
  });

  let deadId;
  await scenario('a producer signs in, sees its role and no operator action, and the API refuses one', async () => {
    const page = await newPage();
    const who = await signIn(page, PRODUCER);
    assert.match(who, /producer/);
    assert.ok(!page.url().includes(PRODUCER), 'the token is in the URL');
    assert.equal(await page.evaluate(() => sessionStorage.length > 0), true);
    await view(page, '#/queues', 'Queues');
    assert.equal(await page.getByRole('button', {name: /^(Pause|Resume)/}).count(), 0, 'a producer sees pause buttons');
    assert.equal(await page.getByLabel('Queue name').count(), 0);
    await view(page, '#/workers', 'Workers');
    await page.getByText(/operators only/).waitFor();
    // The refusal: the same calls the operator buttons make, with the producer's token.
    const refusals = await page.evaluate(async q => {
      const token = Object.values(sessionStorage)[0];
      const call = async (method, path) => (await fetch(path, {method, headers: {Authorization: `Bearer ${token}`}})).status;
      return {pause: await call('POST', `/v1/queues/${q}:pause`), workers: await call('GET', '/v1/workers'),
        audit: await call('GET', '/v1/audit'), bulk: await call('POST', '/v1/bulk')};
    }, Q.pause);
    assert.equal(refusals.pause, 403, 'a producer paused a queue');
    assert.equal(refusals.workers, 403);
    const status = await api('GET', '/v1/queues', OPERATOR);
    assert.ok(!(status.data.queues || []).some(q => q.queue === Q.pause && q.paused), 'the queue is paused after all');
    // A dead task of the producer's: the retry button is not shown, the retry refused.
    deadId = await enqueue(PRODUCER, {type: 'noop', queue: Q.idle, args: {}});  // no worker takes it
    sql(`UPDATE tasks SET state = 'dead', last_error = 'console test: made dead', finished_at = now() WHERE id = '${deadId}'`);
    await view(page, `#/task/${deadId}`, `Task ${deadId}`);
    assert.equal(await page.getByRole('button', {name: 'Retry task'}).count(), 0);
    const retry = await page.evaluate(async id => (await fetch(`/v1/tasks/${id}:retry`, {method: 'POST',
      headers: {Authorization: `Bearer ${Object.values(sessionStorage)[0]}`}})).status, deadId);
    assert.equal(retry, 403, 'a producer retried a task');
    assert.equal(sql(`SELECT state FROM tasks WHERE id = '${deadId}'`), 'dead');
    // A producer sees only its tenant's tasks: another tenant's task is not listed.
    const foreign = await enqueue(OPERATOR, {type: 'noop', queue: Q.idle, tenant: 'other-tenant', args: {}});
    await view(page, `#/tasks?queue=${Q.idle}`, 'Tasks');
    await page.locator('tbody tr').first().waitFor();
    assert.ok(!(await page.locator('main').innerText()).includes(foreign.slice(0, 8)), 'another tenant\'s task listed');
    assert.equal(await page.getByLabel('Tenant').count(), 0, 'a producer is offered a tenant filter');
    // Markup in API text stays text: an error message that is an attack.
    sql(`UPDATE tasks SET last_error = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>' WHERE id = '${deadId}'`);
    for (const [hash, heading] of [[`#/task/${deadId}`, `Task ${deadId}`], ['#/errors', 'Dead and failed tasks'], [`#/tasks?queue=${Q.idle}`, 'Tasks']]) {
      await view(page, hash, heading);
      await page.getByText('<img src=x onerror').first().waitFor();
      assert.equal(await page.evaluate(() => window.__xss), undefined, `script ran on ${hash}`);
      assert.equal(await page.locator('main img, main script').count(), 0, `markup injected on ${hash}`);
    }
    await page.getByRole('button', {name: 'Sign out'}).click();
    await page.getByLabel('API token').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'sign-out left the token behind');
    await page.context().close();
  });

  const op = await newPage();
  await scenario('an operator signs in and sees every view, accessible', async () => {
    await op.goto(`${API}/ui/`);
    await shot(op, 'signin');
    assert.match(await signIn(op, OPERATOR), /operator/);
    await enqueue(PRODUCER, {type: 'sleep', queue: Q.live, args: {ms: 300}});
    const sched = await api('POST', '/v1/schedules', OPERATOR, {name: 'nightly-report', cron: '30 2 * * 1-5',
      type: 'noop', queue: Q.idle, args: {}});
    assert.equal(sched.status, 201, JSON.stringify(sched.data));
    await op.evaluate(() => { location.hash = '#/overview'; });
    for (const [hash, heading, name] of [['#/overview', 'Overview', 'overview'], ['#/queues', 'Queues', 'queues'],
      ['#/tasks', 'Tasks', 'tasks'], ['#/workers', 'Workers', 'workers'], ['#/schedules', 'Schedules', 'schedules'],
      ['#/errors', 'Dead and failed tasks', 'errors'], ['#/bulk', 'Bulk actions', 'bulk'], ['#/audit', 'Audit log', 'audit']]) {
      await view(op, hash, heading);
      await checkAccessibility(op, hash);
      await shot(op, name);
    }
    // A schedule in words, paused and resumed from its row.
    await view(op, '#/schedules', 'Schedules');
    await op.getByText('At 02:30, on Monday through Friday').waitFor();
    await op.getByRole('button', {name: 'Pause nightly-report'}).click();
    await op.getByRole('button', {name: 'Resume nightly-report'}).waitFor();
    assert.equal(sql(`SELECT paused FROM schedules WHERE name = 'nightly-report'`), 't');
    await op.getByRole('button', {name: 'Resume nightly-report'}).click();
    await op.getByRole('button', {name: 'Pause nightly-report'}).waitFor();
    // Keyboard: the first Tab reaches the skip link, then the views, with a visible focus ring.
    // (A reload: the session keeps the token, focus starts at the top.)
    await op.reload();
    await op.getByRole('heading', {level: 1, name: 'Schedules'}).waitFor();
    await op.keyboard.press('Tab');
    assert.equal(await op.evaluate(() => document.activeElement.textContent), 'Skip to content');
    await op.keyboard.press('Tab');
    const focus = await op.evaluate(() => ({text: document.activeElement.textContent,
      outline: getComputedStyle(document.activeElement).outlineStyle}));
    assert.equal(focus.text, 'Overview');
    assert.notEqual(focus.outline, 'none', 'no visible focus');
    await op.keyboard.press('Enter');
    await op.getByRole('heading', {level: 1, name: 'Overview'}).waitFor();
  });

  await scenario('a task\'s progress advances live over SSE', async () => {
    const id = await enqueue(PRODUCER, {type: 'sleep', queue: Q.live, args: {ms: 8000}});
    await view(op, `#/task/${id}`, `Task ${id}`);
    await op.evaluate(() => { window.__sameDocument = true; });
    const percent = async () => {
      const text = await op.getByTestId('task-progress').textContent();
      const m = text.match(/(\d+)%/);
      return m ? Number(m[1]) : 0;
    };
    log(`live task ${id}`);
    const first = await waitFor('some progress', async () => { const p = await percent(); return p > 0 && p < 100 ? p : 0; }, 10000, 100);
    await shot(op, 'task-detail');
    const later = await waitFor('more progress', async () => { const p = await percent(); return p > first ? p : 0; }, 6000, 100);
    log(`progress ${first}% then ${later}%, without reloading`);
    // The attempt that started while the page was open is shown too.
    await waitFor('attempt 1 shown', async () => /^1 of /.test(await op.getByTestId('task-attempt').textContent()), 5000, 100);
    await waitFor('succeeded', async () => /succeeded/.test(await op.getByTestId('task-state').textContent()), 12000);
    assert.equal(await op.evaluate(() => window.__sameDocument), true, 'the page was reloaded');
    // The tree graph of a fan-out, drawn as SVG with a node per task.
    const root = await enqueue(OPERATOR, {type: 'fanout', queue: Q.live, tenant: 'example', args: {width: 3, depth: 1}});
    await waitFor('the fan-out done', async () => Number(sql(`SELECT count(*) FROM tasks WHERE state = 'succeeded' AND (id = '${root}' OR parent_id = '${root}')`)) === 5, 15000);
    await view(op, `#/task/${root}`, `Task ${root}`);
    await op.locator('.graph svg').waitFor();
    assert.equal(await op.locator('.graph svg rect').count(), 5);
    await shot(op, 'task-tree', true);
  });

  await scenario('a paused queue\'s tasks wait until it is resumed', async () => {
    await view(op, '#/queues', 'Queues');
    await op.getByLabel('Queue name').fill(Q.pause);
    await op.getByRole('button', {name: 'Pause queue'}).click();
    const resume = op.getByRole('button', {name: `Resume ${Q.pause}`});
    await waitFor('the paused queue in the list', async () => { await view(op, '#/queues', 'Queues'); return resume.count(); }, 10000, 500);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await enqueue(PRODUCER, {type: 'noop', queue: Q.pause, args: {}}));
    await sleep(3000);
    await view(op, `#/tasks?queue=${Q.pause}`, 'Tasks');
    const badges = () => op.locator('tbody .badge').allTextContents();
    await waitFor('three rows', async () => (await badges()).length === 3, 5000);
    assert.deepEqual(await badges(), ['queued', 'queued', 'queued'], 'tasks of a paused queue ran');
    await shot(op, 'queue-paused-tasks');
    await view(op, '#/queues', 'Queues');
    await shot(op, 'queues-paused');
    await resume.click();
    await waitFor('the tasks to run after resume', async () => Number(sql(
      `SELECT count(*) FROM tasks WHERE state = 'succeeded' AND id IN ('${ids.join("','")}')`)) === 3, 15000);
    await view(op, `#/tasks?queue=${Q.pause}`, 'Tasks');
    await waitFor('three succeeded rows', async () => (await badges()).join() === 'succeeded,succeeded,succeeded', 5000);
  });

  await scenario('the phone layout (390x844) fits without sideways scrolling', async () => {
    const phone = await newPage({width: 390, height: 844});
    await signIn(phone, OPERATOR);
    for (const [hash, heading, name] of [['#/overview', 'Overview', 'phone-overview'], ['#/tasks', 'Tasks', 'phone-tasks']]) {
      await view(phone, hash, heading);
      const overflow = await phone.evaluate(() => {
        const wide = [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 &&
          !e.closest('.table-wrap, nav'));
        return {by: document.documentElement.scrollWidth - window.innerWidth,
          what: wide.slice(0, 3).map(e => `${e.tagName}.${e.className}#${e.id}`)};
      });
      assert.ok(overflow.by <= 0, `${hash} is ${overflow.by}px wider than the phone: ${overflow.what.join(', ')}`);
      await shot(phone, name);
    }
    await phone.context().close();
  });

  await scenario('the overview charts the tasks run so far', async () => {
    await view(op, '#/overview?since=15m', 'Overview');
    const stats = await api('GET', '/v1/stats?since=15m&bucket=30', OPERATOR);
    if (missing(stats)) throw new Skip('no /v1/stats on this server yet');
    await op.locator('.chart svg polyline, .chart svg circle').first().waitFor();
    assert.equal(await op.locator('.chart').count(), 4);
    await checkAccessibility(op, '#/overview?since=15m');
    await shot(op, 'overview');
  });

  await scenario('no token in any URL; every API call carried it in the header', async () => {
    assert.ok(requests.length > 20, `only ${requests.length} requests seen`);
    for (const r of requests) {
      assert.ok(!r.url.includes(PRODUCER) && !r.url.includes(OPERATOR), `a token in ${r.url}`);
      if (new URL(r.url).pathname.startsWith('/v1/')) assert.match(r.auth, /^Bearer \S+$/, `${r.url} without a token`);
    }
    assert.deepEqual(cspViolations, []);
  });
  await op.context().close();
}

// The routes of the console API (issue 23): each skipped while missing.
async function apiSuite() {
  const op = await newPage();
  await signIn(op, OPERATOR);

  await scenario('GET /v1/whoami names the role and tenant', async () => {
    const r = await api('GET', '/v1/whoami', PRODUCER);
    if (missing(r)) throw new Skip('no /v1/whoami on this server yet');
    assert.equal(r.status, 200);
    assert.equal(r.data.role, 'producer');
    assert.equal(r.data.tenant, 'example');
    assert.ok(!JSON.stringify(r.data).includes(PRODUCER), 'whoami returned the secret');
    assert.equal((await api('GET', '/v1/whoami', OPERATOR)).data.role, 'operator');
  });

  await scenario('filter tasks by a payload field', async () => {
    const probe = await api('GET', `/v1/tasks?where=${encodeURIComponent('args.ms = 1')}&limit=1`, PRODUCER);
    if (probe.status === 400 && /where/.test(JSON.stringify(probe.data))) throw new Skip(`where refused: ${probe.data.message}`);
    if ((await api('GET', '/v1/whoami', PRODUCER)).status !== 200) throw new Skip('no payload filter on this server yet (no console API)');
    const wanted = [];
    for (let i = 0; i < 3; i++) wanted.push(await enqueue(PRODUCER, {type: 'sleep', queue: Q.live, args: {ms: 4321}}));
    for (let i = 0; i < 4; i++) await enqueue(PRODUCER, {type: 'sleep', queue: Q.live, args: {ms: 5}});
    await view(op, '#/tasks', 'Tasks');
    await op.getByLabel('Payload (JSON path)').fill('args.ms = 4321');
    await op.getByRole('button', {name: 'Apply filter'}).click();
    await op.waitForURL(/where=/);
    assert.ok(op.url().includes('where=args.ms'), 'the filter is not in the URL');
    await waitFor('the filtered rows', async () => (await op.locator('tbody tr').count()) === 3, 5000);
    const links = await op.locator('tbody tr a').evaluateAll(as => as.map(a => decodeURIComponent(a.getAttribute('href'))));
    assert.deepEqual(links.map(l => l.replace('#/task/', '')).sort(), [...wanted].sort());
    await shot(op, 'tasks-filtered');
    // Shared: the same URL in a new tab (signed in there) shows the same filter.
    const url = op.url();
    const other = await newPage();
    await signIn(other, OPERATOR);
    await other.goto(url);
    await other.getByRole('heading', {level: 1, name: 'Tasks'}).waitFor();
    assert.equal(await other.getByLabel('Payload (JSON path)').inputValue(), 'args.ms = 4321');
    await waitFor('the same rows', async () => (await other.locator('tbody tr').count()) === 3, 5000);
    await other.context().close();
  });

  await scenario('bulk-retry 10,000 dead tasks matched by a filter: each retried once, audited', async () => {
    const dry = await api('POST', '/v1/bulk', OPERATOR, {action: 'retry', filter: {queue: Q.bulk, state: 'dead'}, dry_run: true});
    if (missing(dry)) throw new Skip('no POST /v1/bulk on this server yet');
    // 10,000 tasks in a paused queue, then made dead (as if their attempts had failed).
    assert.equal((await api('POST', `/v1/queues/${Q.bulk}:pause`, OPERATOR)).status, 200);
    for (let b = 0; b < 10; b++) {
      const tasks = Array.from({length: 1000}, () => ({type: 'noop', queue: Q.bulk, args: {}}));
      const r = await api('POST', '/v1/tasks:batch', PRODUCER, {tasks});
      assert.equal(r.status, 201, `batch ${b}: ${JSON.stringify(r.data).slice(0, 200)}`);
    }
    sql(`UPDATE tasks SET state = 'dead', last_error = 'console test: upstream timeout', finished_at = now()
         WHERE queue = '${Q.bulk}' AND state = 'queued'`);
    const dead = Number(sql(`SELECT count(*) FROM tasks WHERE queue = '${Q.bulk}' AND state = 'dead'`));
    assert.equal(dead, 10000);
    assert.equal((await api('POST', `/v1/queues/${Q.bulk}:resume`, OPERATOR)).status, 200);
    const errs = await api('GET', `/v1/tasks:errors?queue=${Q.bulk}`, OPERATOR);
    if (!missing(errs)) {
      await view(op, `#/errors?queue=${Q.bulk}`, 'Dead and failed tasks');
      await op.getByText('console test: upstream timeout').waitFor();
      await shot(op, 'errors-grouped');
    }
    await view(op, `#/bulk?queue=${Q.bulk}&state=dead&action=retry&name=console-e2e`, 'Bulk actions');
    await op.getByTestId('dry-run-count').waitFor();
    assert.match(await op.getByTestId('dry-run-count').textContent(), /^10,?000 tasks match/);
    await shot(op, 'bulk-dry-run');
    await op.getByRole('button', {name: /^Confirm: retry 10,?000 tasks$/}).click();
    await op.getByText(/Job .* started on 10000 tasks/).waitFor();
    await waitFor('the bulk job done', async () => (await op.locator('tbody [data-state="done"]').count()) >= 1, 60000, 500);
    await shot(op, 'bulk');
    await waitFor('every retried task run', async () => Number(sql(
      `SELECT count(*) FROM tasks WHERE queue = '${Q.bulk}' AND state = 'succeeded'`)) === 10000, 60000, 500);
    // Once each: one attempt per task, no task run twice.
    assert.equal(sql(`SELECT count(*) FROM task_attempts a JOIN tasks t ON t.id = a.task_id WHERE t.queue = '${Q.bulk}'`), '10000');
    assert.equal(sql(`SELECT count(*) FROM tasks WHERE queue = '${Q.bulk}' AND attempt <> 1`), '0');
    const audit = await api('GET', '/v1/audit?limit=20', OPERATOR);
    assert.equal(audit.status, 200);
    const entry = (audit.data.entries || []).find(e => /retry/.test(e.action) && Number(e.count) === 10000);
    assert.ok(entry, `no audit entry of the bulk retry: ${JSON.stringify(audit.data).slice(0, 500)}`);
    await view(op, '#/audit', 'Audit log');
    await op.getByRole('cell', {name: '10000'}).first().waitFor();
    await shot(op, 'audit');
  });
  await scenario('run a schedule now; drain a worker', async () => {
    const sched = await api('POST', '/v1/schedules', OPERATOR, {name: 'hourly-sync', cron: '0 * * * *', type: 'noop', queue: Q.idle, args: {}});
    assert.equal(sched.status, 201, JSON.stringify(sched.data));
    if (missing(await api('POST', '/v1/schedules/no-such-schedule:run', PRODUCER))) throw new Skip('no POST /v1/schedules/{name}:run on this server yet');
    const before = Number(sql(`SELECT count(*) FROM tasks WHERE tenant = 'ops' AND queue = '${Q.idle}'`));
    await view(op, '#/schedules', 'Schedules');
    await op.getByText('At minute 0 of every hour').waitFor();
    await op.getByRole('button', {name: 'Run hourly-sync now'}).click();
    await waitFor('the schedule\'s task', async () => Number(sql(`SELECT count(*) FROM tasks WHERE tenant = 'ops' AND queue = '${Q.idle}'`)) === before + 1, 5000);
    await view(op, '#/workers', 'Workers');
    await op.getByRole('button', {name: /^Drain worker /}).click();
    await waitFor('the worker shown draining', async () => {
      await view(op, '#/workers', 'Workers');
      return (await op.getByRole('cell', {name: 'draining'}).count()) === 1;
    }, 10000, 500);
    await shot(op, 'workers-draining');
  });
  await op.context().close();
}

try {
  if (suite === 'api') await apiSuite(); else await core();
} finally {
  await browser.close();
}
const failed = results.filter(r => r.status === 'fail');
const skipped = results.filter(r => r.status === 'skip');
log(`${results.length - failed.length - skipped.length} passed, ${failed.length} failed, ${skipped.length} skipped`);
for (const r of skipped) console.log(`SKIPPED: ${r.name}: ${r.reason}`);
for (const r of failed) console.log(`FAILED: ${r.name}`);
process.exit(failed.length ? 1 : skipped.length ? 77 : 0);
