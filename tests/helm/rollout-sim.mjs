// A rolling update of a worker group, as Kubernetes would run the rendered
// manifests, against the real PostgreSQL and RabbitMQ: the migration Job's
// command, a scheduler and an old worker pod from their Deployments' command
// lines and ConfigMap, tasks in flight, then a new worker pod that must be
// ready (GET of its readinessProbe) before the old one gets SIGTERM
// (maxUnavailable 0). The old pod must turn not ready, drain and exit 0
// within its terminationGracePeriodSeconds, and every task must succeed
// exactly once: none lost, none run twice.
//
// What differs from a cluster, so that the test shares the stack with
// others: a fresh database, a random queue name and free ports instead of
// the rendered metrics/API ports (the probes follow the port change).
//
// Usage: node rollout-sim.mjs NODE_MODULES_DIR BIN_DIR RENDERED.yaml
// Needs FILA_DATABASE_URL and FILA_AMQP_URL (scripts/stack env); exits 77
// (skipped) without them.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { join, resolve } from "node:path";

const [modulesArg, binDir, rendered] = process.argv.slice(2);
if (!modulesArg || !binDir || !rendered) {
  console.error("usage: node rollout-sim.mjs NODE_MODULES_DIR BIN_DIR RENDERED.yaml");
  process.exit(2);
}
if (!process.env.FILA_DATABASE_URL || !process.env.FILA_AMQP_URL) {
  console.log("skipped: FILA_DATABASE_URL and FILA_AMQP_URL are not set (scripts/stack env)");
  process.exit(77);
}
const YAML = createRequire(join(resolve(modulesArg), "noop.js"))("yaml");
const kTasks = 24;
const kTaskMs = 1500;
const children = [];
let failed = false;
const fail = (msg) => {
  console.error(`FAIL ${msg}`);
  failed = true;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// A timer that does not keep the process alive once everything else is done.
const deadline = (ms) => new Promise((r) => setTimeout(r, ms).unref());
const t0 = Date.now();
const step = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${msg}`);

const docs = YAML.parseAllDocuments(readFileSync(rendered, "utf8")).map((d) => d.toJS()).filter(Boolean);
const find = (kind, pred) => docs.find((d) => d.kind === kind && pred(d));
const scheduler = find("Deployment", (d) => d.spec.template.spec.containers[0].command[0] === "fila-scheduler");
const worker = find("Deployment", (d) => d.spec.template.spec.containers[0].command[0] === "fila-worker");
const job = find("Job", (d) => d.metadata.annotations?.["helm.sh/hook"]?.includes("pre-upgrade"));
if (!scheduler || !worker || !job) {
  console.error("FAIL the rendering lacks a scheduler, a worker or the migration hook Job");
  process.exit(1);
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

// The container's environment as the kubelet builds it: ConfigMaps, then
// env (secretKeyRefs filled from the stack), with the overrides.
function podEnv(container, overrides) {
  const env = { PATH: process.env.PATH };
  for (const from of container.envFrom ?? []) {
    const cm = find("ConfigMap", (d) => d.metadata.name === from.configMapRef?.name);
    if (!cm) fail(`ConfigMap ${from.configMapRef?.name} is not rendered`);
    Object.assign(env, cm?.data ?? {});
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = String(e.value);
    else if (e.valueFrom?.secretKeyRef) env[e.name] = overrides[e.name] ?? "";
  }
  return { ...env, ...overrides };
}

function start(name, container, overrides) {
  const [cmd, ...cmdArgs] = container.command;
  const p = spawn(join(binDir, cmd), [...cmdArgs, ...(container.args ?? [])], {
    env: podEnv(container, overrides),
    stdio: ["ignore", "pipe", "pipe"],
  });
  p.log = "";
  p.stdout.on("data", (b) => (p.log += b));
  p.stderr.on("data", (b) => (p.log += b));
  p.exited = new Promise((r) => p.on("exit", (code, signal) => r({ code, signal, at: Date.now() })));
  p.label = name;
  children.push(p);
  return p;
}

async function probe(port, container, which) {
  const get = container[which].httpGet;
  try {
    const r = await fetch(`http://127.0.0.1:${port}${get.path}`, { signal: AbortSignal.timeout(2000) });
    return r.status;
  } catch {
    return 0;
  }
}

async function until(what, deadlineMs, check) {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function cli(env, ...args) {
  const r = spawnSync(join(binDir, "fila"), args, { env: { PATH: process.env.PATH, ...env }, encoding: "utf8", timeout: 60000 });
  if (r.status !== 0) fail(`fila ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function psql(url, sql) {
  const r = spawnSync("psql", [url, "-v", "ON_ERROR_STOP=1", "-Atc", sql], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`psql ${sql}: ${r.error?.message ?? r.stderr}`);
  return r.stdout.trim();
}

const suffix = `${process.pid}_${Date.now() % 100000}`;
const base = new URL(process.env.FILA_DATABASE_URL);
const dbName = `fila_helm_${suffix}`;
const dbUrl = new URL(base);
dbUrl.pathname = `/${dbName}`;
const queue = `helm_${suffix}`;

async function main() {
  step(`database ${dbName}, queue ${queue}`);
  psql(base.href, `CREATE DATABASE ${dbName}`);
  // The tasks in flight are `sleep`, a test type: enabled for this run only
  // (the chart never enables it).
  const secrets = { FILA_DATABASE_URL: dbUrl.href, FILA_AMQP_URL: process.env.FILA_AMQP_URL, FILA_ENABLE_TEST_TYPES: "1" };

  // The migration hook's command.
  const mc = job.spec.template.spec.containers[0];
  const [mcmd, ...margs] = mc.command;
  const m = spawnSync(join(binDir, mcmd), [...margs, ...(mc.args ?? [])], {
    env: podEnv(mc, secrets), encoding: "utf8", timeout: 60000,
  });
  if (m.status !== 0) throw new Error(`migration Job command failed: ${m.stderr}`);

  const sc = scheduler.spec.template.spec.containers[0];
  const schedPort = await freePort();
  const s = start("scheduler", sc, { ...secrets, FILA_METRICS_LISTEN: `127.0.0.1:${schedPort}`, FILA_API_LISTEN: "off", FILA_INGEST: "off" });
  await until("the scheduler's readinessProbe", 30000, async () => (await probe(schedPort, sc, "readinessProbe")) === 200);

  const wc = worker.spec.template.spec.containers[0];
  const grace = worker.spec.template.spec.terminationGracePeriodSeconds;
  const concurrency = Number(wc.args[wc.args.indexOf("--concurrency") + 1]);
  const workerEnv = (port) => ({ ...secrets, FILA_METRICS_LISTEN: `127.0.0.1:${port}`, FILA_QUEUES: queue });
  const oldPort = await freePort();
  const old = start("old worker", wc, workerEnv(oldPort));
  await until("the old worker's readinessProbe", 30000, async () => (await probe(oldPort, wc, "readinessProbe")) === 200);

  const dbEnv = { FILA_DATABASE_URL: dbUrl.href, FILA_ENABLE_TEST_TYPES: "1" };
  cli(dbEnv, "enqueue", "sleep", "--payload-json", JSON.stringify({ ms: kTaskMs }), "--count", String(kTasks), "--queue", queue);
  await until("the old worker to run tasks", 20000, async () => Number(psql(dbUrl.href, "SELECT count(*) FROM tasks WHERE state = 'running'")) > 0);

  // The rollout: a new pod, ready before the old one is told to stop.
  const newPort = await freePort();
  const fresh = start("new worker", wc, workerEnv(newPort));
  await until("the new worker's readinessProbe", 30000, async () => (await probe(newPort, wc, "readinessProbe")) === 200);
  const running = Number(psql(dbUrl.href, `SELECT count(*) FROM tasks WHERE state = 'running' AND worker LIKE '%-${old.pid}'`));
  step("new worker ready; SIGTERM to the old one");
  const termAt = Date.now();
  old.kill("SIGTERM");
  let sawDraining = false;
  const watch = (async () => {
    while (old.exitCode === null && old.signalCode === null) {
      if ((await probe(oldPort, wc, "readinessProbe")) === 503) sawDraining = true;
      await sleep(50);
    }
  })();
  const exit = await Promise.race([old.exited, deadline(grace * 1000).then(() => null)]);
  await watch;
  if (exit === null) fail(`the old worker did not exit within terminationGracePeriodSeconds ${grace} s`);
  else {
    const took = (exit.at - termAt) / 1000;
    console.log(`old worker: SIGTERM with ${running} tasks running (${concurrency} slots), exit ${exit.code} after ${took.toFixed(2)} s (grace ${grace} s)`);
    if (exit.code !== 0) fail(`the old worker exited ${exit.code} (signal ${exit.signal}) after SIGTERM`);
  }
  if (running === 0) fail("no task was running when the old worker was stopped: the test proved nothing");
  if (!sawDraining) console.log("note: the old worker's /readyz was never seen answering 503 while it drained (it may have exited first)");
  if ((await probe(newPort, wc, "livenessProbe")) !== 200) fail("the new worker's livenessProbe does not answer 200");

  step("old worker gone; waiting for the rest");
  cli(dbEnv, "wait", "--timeout", "60");
  step("all done");
  const states = psql(dbUrl.href, "SELECT state || '=' || count(*) FROM tasks GROUP BY state ORDER BY 1").replace(/\n/g, " ");
  const succeeded = Number(psql(dbUrl.href, "SELECT count(*) FROM tasks WHERE state = 'succeeded'"));
  const twice = Number(psql(dbUrl.href,
    "SELECT count(*) FROM (SELECT task_id FROM task_attempts WHERE outcome = 'succeeded' GROUP BY task_id HAVING count(*) > 1) t"));
  const handedBack = Number(psql(dbUrl.href, "SELECT count(*) FROM task_attempts WHERE outcome <> 'succeeded'"));
  console.log(`tasks: ${states}; attempts not succeeded (handed back): ${handedBack}`);
  if (succeeded !== kTasks) fail(`${succeeded} of ${kTasks} tasks succeeded`);
  if (twice !== 0) fail(`${twice} tasks succeeded twice`);
  void fresh;
}

try {
  await main();
} catch (e) {
  fail(e.message);
} finally {
  step("stopping the other processes");
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill("SIGTERM");
      await Promise.race([c.exited, deadline(10000)]);
      if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    }
    if (failed) console.error(`--- ${c.label} log (last 2000 chars)\n${c.log.slice(-2000)}`);
  }
  step("stopped");
  try {
    psql(base.href, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  } catch (e) {
    console.error(`note: ${e.message}`);
  }
}
if (failed) process.exit(1);
console.log("rolling update: the new worker was ready first, the old one drained within its grace period, no task lost or run twice");
