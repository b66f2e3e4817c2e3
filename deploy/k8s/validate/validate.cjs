#!/usr/bin/env node
// Offline validation of Kubernetes objects against the Kubernetes OpenAPI schemas.
//
// The schemas are those of the npm package kubernetes-models (MIT; generated from the
// Kubernetes OpenAPI spec, Kubernetes 1.33 API for version 4.5.1), which install.sh puts in
// /opt/sluice-k8s-validate. No cluster, no network.
//
//   node validate.cjs [--modules DIR] FILE|-     validate every object of a multi-document YAML
//                                                (e.g. `kubectl kustomize` output)
//   node validate.cjs [--modules DIR] --parse-yaml FILE|-
//                                                only parse YAML (1.1, as Kubernetes reads it)
//
// Prints one JSON object on stdout: {"objects": [...], "errors": ["Kind/name: field: problem"]}
// and exits 1 when there are errors (0 otherwise, 2 on a usage or installation problem).
// Checks, per object: apiVersion/kind known to the schemas, metadata.name present, every field
// of the right type / format / enum, required fields present, and no unknown fields (what
// `kubectl apply --validate=strict` would refuse; the compiled schemas do not check that on
// their own, so the fields each validator reads are recorded and any other key is reported).
'use strict';
const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

function usage(msg) {
  process.stderr.write(`validate.cjs: ${msg}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let modules = process.env.SLUICE_K8S_TOOLS
  ? path.join(process.env.SLUICE_K8S_TOOLS, 'node_modules')
  : '/opt/sluice-k8s-validate/node_modules';
let parseOnly = false;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--modules') modules = args[++i];
  else if (args[i] === '--parse-yaml') parseOnly = true;
  else files.push(args[i]);
}
if (files.length !== 1) usage('expected one FILE (or -)');
if (!fs.existsSync(path.join(modules, 'kubernetes-models', 'package.json')))
  usage(`kubernetes-models not found under ${modules}: run deploy/k8s/validate/install.sh`);
const req = createRequire(path.join(modules, 'package.json'));
const YAML = req('yaml');

const text = fs.readFileSync(files[0] === '-' ? 0 : files[0], 'utf8');
const errors = [];
const objects = [];
for (const doc of YAML.parseAllDocuments(text, { version: '1.1', merge: true })) {
  for (const e of doc.errors) errors.push(`YAML: ${e.message}`);
  const value = doc.toJS({ maxAliasCount: 100 });
  if (value !== null && value !== undefined) objects.push(value);
}
if (parseOnly || errors.length) {
  process.stdout.write(JSON.stringify({ objects, errors }) + '\n');
  process.exit(errors.length ? 1 : 0);
}

// apiVersion + kind -> the schema's validate function, from the package's own group indexes
// (each exports the model class and its schema id, e.g. StatefulSet and IoK8sApiAppsV1StatefulSet).
const pkgDir = path.dirname(req.resolve('kubernetes-models/package.json'));
const validators = new Map();
for (const group of fs.readdirSync(pkgDir)) {
  const groupDir = path.join(pkgDir, group);
  if (group.startsWith('_') || !fs.statSync(groupDir).isDirectory()) continue;
  const versionDirs = fs.existsSync(path.join(groupDir, 'index.js')) && group === 'v1'
    ? [groupDir] : fs.readdirSync(groupDir).map((v) => path.join(groupDir, v));
  for (const dir of versionDirs) {
    if (!fs.existsSync(path.join(dir, 'index.js'))) continue;
    const mod = req(path.join(dir, 'index.js'));
    for (const [name, cls] of Object.entries(mod)) {
      if (!name.startsWith('IoK8s') || typeof cls !== 'function' || !cls.kind || !cls.apiVersion) continue;
      const schema = path.join(pkgDir, '_schemas', `${name}.js`);
      if (fs.existsSync(schema)) validators.set(`${cls.apiVersion} ${cls.kind}`, req(schema).validate);
    }
  }
}
if (validators.size < 50) usage(`only ${validators.size} schemas found under ${pkgDir}: broken install?`);

// A proxy that records which keys of each object the schema validator looks at.
function track(value, where, records) {
  if (value === null || typeof value !== 'object') return value;
  const rec = { where, value, read: new Set(), allKeys: false, visited: false };
  records.push(rec);
  const children = new Map();
  return new Proxy(value, {
    get(target, key, receiver) {
      rec.visited = true;
      const v = Reflect.get(target, key, receiver);
      if (typeof key !== 'string') return v;
      rec.read.add(key);
      if (v === null || typeof v !== 'object' || !Object.prototype.hasOwnProperty.call(target, key)) return v;
      if (!children.has(key)) children.set(key, track(v, where.concat([key]), records));
      return children.get(key);
    },
    has(target, key) {
      rec.visited = true;
      if (typeof key === 'string') rec.read.add(key);
      return Reflect.has(target, key);
    },
    ownKeys(target) {  // for..in / Object.keys: a map (labels, data, ...) — every key allowed
      rec.visited = true;
      rec.allKeys = true;
      return Reflect.ownKeys(target);
    },
  });
}

// instancePath "/spec/template/spec/containers/0/ports" -> "spec.template.spec.containers[0].ports"
function fieldName(parts) {
  let out = '';
  for (const p of parts) out += /^\d+$/.test(String(p)) ? `[${p}]` : (out ? '.' : '') + p;
  return out || '(object)';
}
function pointer(p) {
  return p.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}
function describe(e) {
  const p = e.params || {};
  switch (e.keyword) {
    case 'type': return `must be ${p.type}`;
    case 'required': return `required field ${p.missingProperty} is missing`;
    case 'enum': return `must be one of ${JSON.stringify(p.allowedValues)}`;
    case 'format': return `must match format ${p.format}`;
    case 'oneOf': case 'anyOf': return 'matches none of the allowed forms';
    default: return `${e.keyword} ${JSON.stringify(p)}`;
  }
}

objects.forEach((obj, index) => {
  const kind = obj && typeof obj === 'object' && typeof obj.kind === 'string' ? obj.kind : '?';
  const name = obj && obj.metadata && typeof obj.metadata.name === 'string' ? obj.metadata.name : `#${index}`;
  const id = `${kind}/${name}`;
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) { errors.push(`document #${index}: not an object`); return; }
  if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') {
    errors.push(`${id}: apiVersion and kind must be strings`); return;
  }
  if (!obj.metadata || typeof obj.metadata.name !== 'string' || !obj.metadata.name) {
    errors.push(`${id}: metadata.name is missing`);
  }
  const validate = validators.get(`${obj.apiVersion} ${obj.kind}`);
  if (!validate) { errors.push(`${id}: no schema for apiVersion ${obj.apiVersion} kind ${obj.kind}`); return; }
  const records = [];
  const ok = validate(track(obj, [], records));
  if (!ok) {
    const seen = new Set();
    for (const e of validate.errors || []) {
      if (e.keyword === 'oneOf' || e.keyword === 'anyOf') continue;  // its branches say more
      const msg = `${id}: ${fieldName(pointer(e.instancePath))}: ${describe(e)}`;
      if (!seen.has(msg)) { seen.add(msg); errors.push(msg); }
    }
    if (!seen.size) errors.push(`${id}: invalid (${JSON.stringify(validate.errors)})`);
  }
  for (const rec of records) {
    if (!rec.visited || rec.allKeys || Array.isArray(rec.value)) continue;
    for (const key of Object.keys(rec.value))
      if (!rec.read.has(key)) errors.push(`${id}: ${fieldName(rec.where.concat([key]))}: unknown field`);
  }
});
process.stdout.write(JSON.stringify({ objects, errors }) + '\n');
process.exit(errors.length ? 1 : 0);
