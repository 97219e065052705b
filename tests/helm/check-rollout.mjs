// Checks that the parts of a rendered release that must agree do agree, so
// that a rollout or an eviction loses nothing:
//  - each worker's terminationGracePeriodSeconds exceeds its drain budget
//    (fila-worker --drain-timeout, from the rendered args, else the
//    binary's default from --help) by at least kMarginSeconds;
//  - liveness and readiness probes GET /healthz and /readyz on the port the
//    daemon really listens on (FILA_METRICS_LISTEN from the ConfigMap), and
//    the API Service reaches FILA_API_LISTEN;
//  - Services, PDBs, autoscalers and the ServiceMonitor select or target
//    objects of the release;
//  - the real binaries accept the rendered command lines and settings: each
//    container's command runs with its args and non-secret environment and
//    must get past option parsing (it then stops for want of a database URL);
//  - worker groups' handlers (workers[].handler): the real `fila types apply
//    --dry-run` accepts the rendered types.yaml; the migration Job applies
//    it after `fila migrate up`, from the hook ConfigMap created before it;
//    each HTTP type's URL is the loopback port of the sidecar in every
//    Deployment consuming its queue (and that sidecar's PORT and the
//    workers' FILA_HANDLER_URL agree).
//
// Usage: node check-rollout.mjs NODE_MODULES_DIR WORKER_BIN SCHEDULER_BIN FILA_BIN FILE.yaml...
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createRequire } from "node:module";
import { spawnSync } from "node:child_process";

const kMarginSeconds = 10;
const [modulesArg, workerBin, schedulerBin, filaBin, ...files] = process.argv.slice(2);
if (!modulesArg || !workerBin || !schedulerBin || !filaBin || files.length === 0) {
  console.error("usage: node check-rollout.mjs NODE_MODULES_DIR WORKER_BIN SCHEDULER_BIN FILA_BIN FILE.yaml...");
  process.exit(2);
}
const YAML = createRequire(join(resolve(modulesArg), "noop.js"))("yaml");
const binaries = { "fila-worker": workerBin, "fila-scheduler": schedulerBin };
for (const [target, bin] of Object.entries({ ...binaries, fila: filaBin })) {
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    console.error(`FAIL ${bin} is not an executable: build the ${target} target first`);
    process.exit(1);
  }
}

const problems = [];
const notes = [];

// The worker's own default, for a rendering that leaves --drain-timeout out.
// CLI11 prints it as "[30]" when the option captures its default.
function binaryDrainDefault() {
  const help = spawnSync(workerBin, ["--help"], { encoding: "utf8", env: { PATH: process.env.PATH } });
  if (help.status !== 0) {
    problems.push(`${workerBin} --help exited ${help.status}: ${help.stderr}`);
    return null;
  }
  const line = help.stdout.split("\n").find((l) => l.includes("--drain-timeout"));
  if (!line) {
    problems.push(`${workerBin} --help does not list --drain-timeout`);
    return null;
  }
  const m = line.match(/\[(\d+)\]\s*$/);
  return m ? Number(m[1]) : null;
}
const helpDefault = binaryDrainDefault();

function argValue(args, flag) {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === flag) return args[i + 1];
    if (args[i].startsWith(`${flag}=`)) return args[i].slice(flag.length + 1);
  }
  return undefined;
}

function portOf(listen, what, where) {
  const m = /^[^:]*:(\d+)$/.exec(listen ?? "");
  if (!m) {
    problems.push(`${where}: ${what} is ${JSON.stringify(listen)}, not HOST:PORT`);
    return null;
  }
  return Number(m[1]);
}

function matches(selector, labels) {
  return Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
}

const docs = [];
for (const file of files) {
  for (const d of YAML.parseAllDocuments(readFileSync(file, "utf8"))) {
    const doc = d.toJS();
    if (doc) docs.push({ file, doc });
  }
}
const byKind = (kind) => docs.filter((d) => d.doc.kind === kind);
const configMaps = new Map(byKind("ConfigMap").map(({ doc }) => [doc.metadata.name, doc.data ?? {}]));
const deployments = byKind("Deployment");
if (deployments.length === 0) problems.push("no Deployment rendered");
let workers = 0;

// Plain environment of a container (ConfigMaps first, then env values);
// secrets stay out, so no daemon can reach a real server.
function containerEnv(c, where) {
  const env = {};
  for (const from of c.envFrom ?? []) {
    const name = from.configMapRef?.name;
    if (!name) continue;
    if (!configMaps.has(name)) problems.push(`${where}: envFrom names ConfigMap ${name}, which is not rendered`);
    Object.assign(env, configMaps.get(name) ?? {});
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = String(e.value);
    else if (e.valueFrom?.secretKeyRef) env[`secret:${e.name}`] = e.valueFrom.secretKeyRef;
  }
  return env;
}

function resolvePort(c, port) {
  if (typeof port === "number") return port;
  return (c.ports ?? []).find((p) => p.name === port)?.containerPort;
}

for (const { file, doc } of deployments) {
  const where = `${file}: Deployment/${doc.metadata.name}`;
  const pod = doc.spec.template;
  for (const c of pod.spec.containers) {
    const at = `${where} container ${c.name}`;
    const env = containerEnv(c, at);
    const metricsPort = portOf(env.FILA_METRICS_LISTEN, "FILA_METRICS_LISTEN", at);
    for (const [probe, path] of [["livenessProbe", "/healthz"], ["readinessProbe", "/readyz"]]) {
      const get = c[probe]?.httpGet;
      if (!get) {
        problems.push(`${at}: no ${probe}`);
        continue;
      }
      if (get.path !== path) problems.push(`${at}: ${probe} GETs ${get.path}, not ${path}`);
      const port = resolvePort(c, get.port);
      if (port === undefined) problems.push(`${at}: ${probe} port ${get.port} is not a container port`);
      else if (metricsPort !== null && port !== metricsPort) {
        problems.push(`${at}: ${probe} probes port ${port} but FILA_METRICS_LISTEN is ${env.FILA_METRICS_LISTEN}`);
      }
    }
    if (c.livenessProbe?.httpGet?.path === "/readyz") {
      problems.push(`${at}: liveness on /readyz would restart every pod while PostgreSQL is down`);
    }

    const cmd = c.command?.[0];
    const args = c.args ?? [];
    if (cmd === "fila-worker") {
      workers++;
      const rendered = argValue(args, "--drain-timeout");
      const drain = rendered !== undefined ? Number(rendered) : helpDefault;
      if (drain === null || Number.isNaN(drain)) {
        problems.push(`${at}: drain budget unknown (no --drain-timeout in args, no default in --help)`);
      } else {
        const grace = pod.spec.terminationGracePeriodSeconds ?? 30; // Kubernetes' default
        if (!(grace >= drain + kMarginSeconds)) {
          problems.push(`${at}: terminationGracePeriodSeconds ${grace} < drain budget ${drain} + ${kMarginSeconds} s`);
        }
        notes.push(`${doc.metadata.name}: drain ${drain} s${rendered === undefined ? " (binary default)" : ""}, grace ${grace} s, probes on ${metricsPort}`);
      }
      if (!env.FILA_QUEUES) problems.push(`${at}: no FILA_QUEUES`);
      const strategy = doc.spec.strategy?.rollingUpdate;
      if (strategy && strategy.maxUnavailable !== 0) {
        problems.push(`${at}: rolling update may take workers away before new ones are ready (maxUnavailable ${strategy.maxUnavailable})`);
      }
    }
    if (cmd === "fila-scheduler" && env.FILA_API_LISTEN && env.FILA_API_LISTEN !== "off") {
      const apiPort = portOf(env.FILA_API_LISTEN, "FILA_API_LISTEN", at);
      const http = resolvePort(c, "http");
      if (http !== apiPort) problems.push(`${at}: container port http ${http} is not FILA_API_LISTEN's ${apiPort}`);
    }

    // The real binary parses exactly what Kubernetes would pass it.
    if (binaries[cmd]) {
      const plain = Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith("secret:")));
      const run = spawnSync(binaries[cmd], args, {
        encoding: "utf8",
        timeout: 10000,
        env: { PATH: process.env.PATH, ...plain },
      });
      const out = `${run.stdout}${run.stderr}`;
      const refused = /no database|set --database-url/.test(out);
      if (run.status !== 2 || !refused) {
        problems.push(`${at}: ${cmd} ${args.join(" ")} did not get past its options (exit ${run.status}): ${out.trim().slice(0, 300)}`);
      }
    }
  }
}

// Selectors and targets point at objects of the same release (file).
function checkReferences(byKind, deployments) {
  const podTemplates = deployments.map(({ doc }) => ({ name: doc.metadata.name, labels: doc.spec.template.metadata.labels }));
  for (const { file, doc } of byKind("Service")) {
    const hit = podTemplates.filter((p) => matches(doc.spec.selector, p.labels));
    if (hit.length === 0) problems.push(`${file}: Service/${doc.metadata.name} selects no pod of the release`);
  }
  for (const { file, doc } of byKind("PodDisruptionBudget")) {
    const hit = podTemplates.filter((p) => matches(doc.spec.selector.matchLabels, p.labels));
    if (hit.length !== 1) problems.push(`${file}: PodDisruptionBudget/${doc.metadata.name} selects ${hit.length} Deployments' pods, not 1`);
  }
  for (const kind of ["ScaledObject", "HorizontalPodAutoscaler"]) {
    for (const { file, doc } of byKind(kind)) {
      const target = doc.spec.scaleTargetRef?.name;
      const d = deployments.find(({ doc: dd }) => dd.metadata.name === target);
      if (!d) problems.push(`${file}: ${kind}/${doc.metadata.name} targets Deployment ${target}, which is not rendered`);
      else if (d.doc.spec.replicas !== undefined) {
        problems.push(`${file}: Deployment/${target} sets replicas although ${kind} scales it (helm upgrade would reset it)`);
      }
    }
  }
  const scaled = new Map();
  for (const kind of ["ScaledObject", "HorizontalPodAutoscaler"]) {
    for (const { file, doc } of byKind(kind)) {
      const t = doc.spec.scaleTargetRef?.name;
      if (scaled.has(t)) problems.push(`${file}: Deployment/${t} has two autoscalers (${scaled.get(t)} and ${kind})`);
      scaled.set(t, kind);
    }
  }
  for (const { file, doc } of byKind("ServiceMonitor")) {
    const svcs = byKind("Service").filter(({ doc: s }) => matches(doc.spec.selector.matchLabels, s.metadata.labels));
    if (svcs.length === 0) problems.push(`${file}: ServiceMonitor/${doc.metadata.name} selects no Service`);
    for (const { doc: s } of svcs) {
      for (const ep of doc.spec.endpoints) {
        if (!s.spec.ports.some((p) => p.name === ep.port)) {
          problems.push(`${file}: ServiceMonitor/${doc.metadata.name} scrapes port ${ep.port}, which Service/${s.metadata.name} lacks`);
        }
      }
    }
  }
  for (const { file, doc } of byKind("ScaledObject")) {
    for (const t of doc.spec.triggers) {
      if (t.type === "rabbitmq" && !/^fila\.[a-z0-9_.-]+$/.test(t.metadata.queueName ?? "")) {
        problems.push(`${file}: ScaledObject/${doc.metadata.name} watches ${t.metadata.queueName}, not a fila.<queue> queue`);
      }
      const auth = t.authenticationRef?.name;
      if (auth && !byKind("TriggerAuthentication").some(({ doc: a }) => a.metadata.name === auth)) {
        problems.push(`${file}: ScaledObject/${doc.metadata.name} uses TriggerAuthentication ${auth}, which is not rendered`);
      }
    }
  }
}
for (const file of files) {
  const mine = docs.filter((d) => d.file === file);
  checkReferences((kind) => mine.filter((d) => d.doc.kind === kind), mine.filter((d) => d.doc.kind === "Deployment"));
}

// The groups' handlers and their types (workers[].handler).
let typesChecked = 0;
function checkHandlers(file, mine) {
  const kind = (k) => mine.filter((d) => d.doc.kind === k).map((d) => d.doc);
  const hookOf = (doc) => ({
    events: doc.metadata.annotations?.["helm.sh/hook"],
    weight: Number(doc.metadata.annotations?.["helm.sh/hook-weight"] ?? 0),
  });
  const workersOf = kind("Deployment").map((d) => {
    const spec = d.spec.template.spec;
    const worker = spec.containers.find((c) => c.command?.[0] === "fila-worker");
    const sidecars = (spec.initContainers ?? []).filter((c) => c.restartPolicy === "Always");
    return { name: d.metadata.name, worker, sidecars, env: worker ? containerEnv(worker, d.metadata.name) : {} };
  }).filter((w) => w.worker);

  // Every sidecar: PORT, its container port and the workers' FILA_HANDLER_URL agree.
  for (const w of workersOf) {
    const at = `${file}: Deployment/${w.name}`;
    for (const s of w.sidecars) {
      const env = containerEnv(s, at);
      const port = resolvePort(s, "handler");
      if (String(port) !== env.PORT) problems.push(`${at} sidecar ${s.name}: PORT ${env.PORT} is not its container port ${port}`);
      if (!s.startupProbe) problems.push(`${at} sidecar ${s.name}: no startupProbe (the worker would start before it listens)`);
      for (const [who, e] of [["sidecar", env], ["worker", w.env]]) {
        if (e.FILA_HANDLER_URL !== `http://127.0.0.1:${port}`) {
          problems.push(`${at}: the ${who}'s FILA_HANDLER_URL ${e.FILA_HANDLER_URL} is not the sidecar's http://127.0.0.1:${port}`);
        }
      }
    }
  }

  const cm = kind("ConfigMap").find((c) => c.metadata.name.endsWith("-types") && c.data?.["types.yaml"]);
  if (!cm) return;
  const job = kind("Job").find((j) => j.metadata.name.endsWith("-migrate"));
  const at = `${file}: ConfigMap/${cm.metadata.name}`;
  if (!job) {
    problems.push(`${at}: no migration Job applies it`);
  } else {
    const spec = job.spec.template.spec;
    const volume = spec.volumes?.find((v) => v.configMap?.name === cm.metadata.name);
    const apply = spec.containers.find((c) => c.command?.slice(0, 3).join(" ") === "fila types apply");
    const mount = apply?.volumeMounts?.find((m) => m.name === volume?.name);
    if (!volume || !apply || !mount || apply.command.at(-1) !== `${mount.mountPath}/types.yaml`) {
      problems.push(`${file}: Job/${job.metadata.name} does not run fila types apply -f on the mounted ${cm.metadata.name}/types.yaml`);
    }
    if (!(spec.initContainers ?? []).some((c) => c.command?.join(" ") === "fila migrate up")) {
      problems.push(`${file}: Job/${job.metadata.name} does not run fila migrate up before applying the types`);
    }
    const [h, j] = [hookOf(cm), hookOf(job)];
    if (h.events !== j.events || !(h.weight < j.weight)) {
      problems.push(`${at}: hook ${h.events} weight ${h.weight} is not created before Job/${job.metadata.name} (${j.events} weight ${j.weight})`);
    }
  }

  // The real CLI accepts it (--dry-run reaches no database).
  const dir = mkdtempSync(join(tmpdir(), "fila-types-"));
  try {
    writeFileSync(join(dir, "types.yaml"), cm.data["types.yaml"]);
    const run = spawnSync(filaBin, ["types", "apply", "--dry-run", "-f", join(dir, "types.yaml")], {
      encoding: "utf8",
      timeout: 10000,
      env: { PATH: process.env.PATH, FILA_DATABASE_URL: "postgresql://fila@127.0.0.1:1/unused" },
    });
    if (run.status !== 0) problems.push(`${at}: fila types apply --dry-run refused it (exit ${run.status}): ${`${run.stdout}${run.stderr}`.trim().slice(0, 400)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // Each type runs where its handler is: the groups consuming its queue.
  for (const t of YAML.parse(cm.data["types.yaml"]).types) {
    typesChecked++;
    const tat = `${at}: type ${t.name}`;
    const groups = workersOf.filter((w) => (w.env.FILA_QUEUES ?? "").split(",").includes(t.queue));
    if (groups.length === 0) problems.push(`${tat}: no worker group consumes its queue ${t.queue}`);
    for (const w of groups) {
      if (t.handler?.http) {
        const url = new URL(t.handler.http.url);
        const ports = w.sidecars.map((s) => resolvePort(s, "handler"));
        if (url.hostname !== "127.0.0.1" || !ports.includes(Number(url.port))) {
          problems.push(`${tat}: its URL ${t.handler.http.url} is not a sidecar of Deployment/${w.name} (ports ${ports.join(",") || "none"})`);
        }
      } else if (!t.handler?.exec) {
        problems.push(`${tat}: no http or exec handler`);
      }
    }
  }
}
for (const file of files) checkHandlers(file, docs.filter((d) => d.file === file));

if (workers === 0) problems.push("no fila-worker container rendered");
for (const n of notes) console.log(n);
console.log(`checked ${deployments.length} Deployments (${workers} worker containers) and ${typesChecked} handler types in ${files.length} file(s)`);
if (problems.length > 0) {
  for (const p of problems) console.error(`FAIL ${p}`);
  console.error(`${problems.length} problem(s)`);
  process.exit(1);
}
console.log("drain budgets, grace periods, probes, selectors and command lines agree");
