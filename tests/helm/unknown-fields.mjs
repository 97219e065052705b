// Finds fields the Kubernetes API does not know (a misspelt key in a
// template), which the models' JSON schemas accept: they do not forbid
// additional properties, and a real API server would drop such a field
// silently. The property names come from the models' TypeScript
// declarations (one interface per definition, properties as `"name"?: Type;`).
// Types written inline (a few CRD fields) are not looked into.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

const parsed = new Map();

function resolveImport(fromFile, spec, modules) {
  const base = spec.replace(/\.js$/, "");
  const file = spec.startsWith(".") ? join(dirname(fromFile), `${base}.d.ts`) : join(modules, `${base}.d.ts`);
  return existsSync(file) ? file : null;
}

// {interface name: {prop: type text}} and {imported name: file} of one .d.ts.
function parseFile(file, modules) {
  if (parsed.has(file)) return parsed.get(file);
  const text = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
  const imports = {};
  for (const m of text.matchAll(/import \{([^}]*)\} from "([^"]+)";/g)) {
    const target = resolveImport(file, m[2], modules);
    for (const name of m[1].split(",").map((s) => s.trim().split(/\s+as\s+/).pop())) {
      if (name && target) imports[name] = target;
    }
  }
  const interfaces = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const head = /^export interface (\w+)(?: extends ([\w, ]+))? \{$/.exec(lines[i]);
    if (!head) continue;
    const props = {};
    if (head[2] && /\bTypeMeta\b/.test(head[2])) Object.assign(props, { apiVersion: "string", kind: "string" });
    let depth = 1;
    for (i++; i < lines.length && depth > 0; i++) {
      const line = lines[i];
      if (depth === 1) {
        const p = /^ {4}"([^"]+)"\??: (.*)$/.exec(line);
        if (p) props[p[1]] = p[2].replace(/;$/, "");
        else if (/^ {4}\[key: string\]/.test(line)) props["[key]"] = "any";
      }
      depth += (line.match(/\{/g) ?? []).length - (line.match(/\}/g) ?? []).length;
    }
    i--;
    interfaces[head[1]] = props;
  }
  const aliases = {};
  for (const m of text.matchAll(/export type \{([^}]*)\}/g)) {
    for (const part of m[1].split(",")) {
      const [local, alias] = part.trim().split(/\s+as\s+/);
      if (alias) aliases[alias] = local;
    }
  }
  const result = { imports, interfaces, aliases };
  parsed.set(file, result);
  return result;
}

function lookup(file, name, modules) {
  const f = parseFile(file, modules);
  if (f.interfaces[name]) return { file, props: f.interfaces[name] };
  const local = f.aliases[name];
  if (local && f.interfaces[local]) return { file, props: f.interfaces[local] };
  const target = f.imports[name];
  if (target && target !== file) return lookup(target, name, modules);
  return null;
}

// Where the object's value of a property goes next: an interface to check,
// or null (a primitive, a map of strings, an inline type).
function nextType(type) {
  const arr = /^Array<(\w+)>$/.exec(type);
  if (arr) return { array: true, name: arr[1] };
  if (/^I\w+$/.test(type)) return { array: false, name: type };
  return null;
}

function walk(value, iface, path, ctx) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return;
  const { props, file } = iface;
  if (props["[key]"]) return;
  for (const [key, v] of Object.entries(value)) {
    if (!(key in props)) {
      ctx.unknown.push(`${path}.${key}`);
      continue;
    }
    const next = nextType(props[key]);
    if (!next) continue;
    const child = lookup(file, next.name, ctx.modules);
    if (!child) continue;
    if (next.array && Array.isArray(v)) v.forEach((item, i) => walk(item, child, `${path}.${key}[${i}]`, ctx));
    else if (!next.array) walk(v, child, `${path}.${key}`, ctx);
  }
}

// The paths of doc's fields its kind does not declare; null when the
// kind's declarations are not found.
export function unknownFields(doc, modelDir, modules) {
  const file = join(modelDir, `${doc.kind}.d.ts`);
  if (!existsSync(file)) return null;
  const root = lookup(file, `I${doc.kind}`, modules);
  if (!root) return null;
  const ctx = { unknown: [], modules };
  walk(doc, root, doc.kind, ctx);
  return ctx.unknown;
}
