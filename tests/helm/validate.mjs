// Validates manifests rendered by `helm template` offline: every document
// against the JSON schema of its apiVersion/kind (Kubernetes 1.27 from
// kubernetes-models; KEDA and prometheus-operator CRDs from their models),
// and for fields the API does not know (unknown-fields.mjs), then the
// chart's own rules (standard labels, non-root read-only pods,
// checksum/config, probes, no secret values).
//
// Usage: node validate.mjs NODE_MODULES_DIR FILE.yaml...
// Exits 1, listing every problem, if any document fails; 0 otherwise.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { unknownFields } from "./unknown-fields.mjs";

const [modulesArg, ...files] = process.argv.slice(2);
const modules = modulesArg ? resolve(modulesArg) : "";
if (!modulesArg || files.length === 0) {
  console.error("usage: node validate.mjs NODE_MODULES_DIR FILE.yaml...");
  process.exit(2);
}
const YAML = createRequire(join(modules, "noop.js"))("yaml");

// The models are ES modules whose package exports only an "import"
// condition: load them by file from the given node_modules.
function modelModule(apiVersion) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === "keda.sh") return join(modules, "@kubernetes-models/keda", group, version, "index.js");
  if (group === "monitoring.coreos.com") {
    return join(modules, "@kubernetes-models/prometheus-operator", group, version, "index.js");
  }
  return join(modules, "kubernetes-models", group, version, "index.js");
}

const problems = [];
const counts = {};
let documents = 0;

async function validateSchema(doc, where) {
  let mod;
  try {
    mod = await import(pathToFileURL(modelModule(doc.apiVersion)).href);
  } catch {
    problems.push(`${where}: no schema for apiVersion ${doc.apiVersion}`);
    return;
  }
  const Model = mod[doc.kind];
  if (typeof Model !== "function") {
    problems.push(`${where}: no schema for kind ${doc.kind} in ${doc.apiVersion}`);
    return;
  }
  try {
    new Model(doc).validate();
  } catch (e) {
    problems.push(`${where}: ${e.message}`);
  }
  const unknown = unknownFields(doc, dirname(modelModule(doc.apiVersion)), modules);
  if (unknown === null) problems.push(`${where}: no field declarations for ${doc.apiVersion} ${doc.kind}`);
  else for (const path of unknown) problems.push(`${where}: ${path} is not a field of ${doc.kind}`);
}

const kStandardLabels = [
  "app.kubernetes.io/name",
  "app.kubernetes.io/instance",
  "app.kubernetes.io/version",
  "app.kubernetes.io/managed-by",
  "helm.sh/chart",
];

function checkPodSpec(spec, meta, where) {
  const sc = spec.securityContext ?? {};
  if (sc.runAsNonRoot !== true) problems.push(`${where}: pod securityContext.runAsNonRoot is not true`);
  if (!(sc.runAsUser > 0)) problems.push(`${where}: pod securityContext.runAsUser is not a non-root uid`);
  // Init containers too: a handler sidecar is one (restartPolicy: Always).
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    const at = `${where} container ${c.name}`;
    const csc = c.securityContext ?? {};
    if (csc.readOnlyRootFilesystem !== true) problems.push(`${at}: readOnlyRootFilesystem is not true`);
    if (csc.allowPrivilegeEscalation !== false) problems.push(`${at}: allowPrivilegeEscalation is not false`);
    if (csc.runAsNonRoot !== true) problems.push(`${at}: runAsNonRoot is not true`);
    if (!(csc.capabilities?.drop ?? []).includes("ALL")) problems.push(`${at}: capabilities do not drop ALL`);
    if (!c.resources?.requests) problems.push(`${at}: no resource requests`);
    for (const e of c.env ?? []) {
      // URLs and tokens come from Secrets; a literal value would be a secret in values.yaml.
      if (e.value === undefined) continue;
      const secretName = /^FILA_(DATABASE|AMQP)_URL$|TOKEN$|PASSWORD$|SECRET$|API_KEY$/.test(e.name);
      if (secretName || /:\/\/[^/@\s]+:[^/@\s]+@/.test(String(e.value))) {
        problems.push(`${at}: ${e.name} has a literal value (a secret?) instead of a secretKeyRef`);
      }
    }
  }
  if (meta.kind === "Deployment") {
    if (!meta.annotations?.["checksum/config"]?.match(/^[0-9a-f]{64}$/)) {
      problems.push(`${where}: pod template has no checksum/config annotation`);
    }
    for (const c of spec.containers ?? []) {
      for (const [probe, path] of [["livenessProbe", "/healthz"], ["readinessProbe", "/readyz"]]) {
        if (c[probe]?.httpGet?.path !== path) problems.push(`${where} container ${c.name}: ${probe} is not GET ${path}`);
      }
    }
  }
}

function checkRules(doc, where) {
  const labels = doc.metadata?.labels ?? {};
  for (const l of kStandardLabels) {
    if (!labels[l]) problems.push(`${where}: label ${l} is missing`);
  }
  const pod =
    doc.kind === "Pod" ? { spec: doc.spec, metadata: doc.metadata } : doc.spec?.template ?? null;
  if (pod && ["Deployment", "Job", "Pod"].includes(doc.kind)) {
    checkPodSpec(pod.spec ?? {}, { kind: doc.kind, annotations: pod.metadata?.annotations }, where);
  }
  if (doc.kind === "ConfigMap") {
    for (const [k, v] of Object.entries(doc.data ?? {})) {
      if (/TOKEN$|PASSWORD$|SECRET$|API_KEY$|^FILA_(DATABASE|AMQP)_URL$/.test(k) || /:\/\/[^/@\s"]+:[^/@\s"]+@/.test(String(v))) {
        problems.push(`${where}: ${k} looks like a secret; ConfigMaps are not for secrets`);
      }
    }
  }
  if (doc.kind === "Secret") problems.push(`${where}: the chart must not create Secrets (values hold no secret)`);
}

for (const file of files) {
  const text = readFileSync(file, "utf8");
  for (const parsed of YAML.parseAllDocuments(text)) {
    if (parsed.errors.length > 0) {
      problems.push(`${file}: YAML error: ${parsed.errors[0].message}`);
      continue;
    }
    const doc = parsed.toJS();
    if (doc === null || doc === undefined) continue;
    documents++;
    const where = `${file}: ${doc.kind ?? "?"}/${doc.metadata?.name ?? "?"}`;
    if (!doc.apiVersion || !doc.kind) {
      problems.push(`${where}: no apiVersion or kind`);
      continue;
    }
    counts[doc.kind] = (counts[doc.kind] ?? 0) + 1;
    await validateSchema(doc, where);
    checkRules(doc, where);
  }
}

if (documents === 0) problems.push("no Kubernetes document in the given files");
const summary = Object.entries(counts)
  .sort()
  .map(([k, n]) => `${n} ${k}`)
  .join(", ");
console.log(`validated ${documents} documents in ${files.length} file(s): ${summary}`);
if (problems.length > 0) {
  for (const p of problems) console.error(`FAIL ${p}`);
  console.error(`${problems.length} problem(s)`);
  process.exit(1);
}
console.log("all documents match their schemas and the chart's rules");
