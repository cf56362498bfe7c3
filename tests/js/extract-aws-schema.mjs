// Extracts the hashicorp/aws provider's configuration schema from the pinned @cdktf/provider-aws
// package into aws-schema.json, which aws_schema.test.mjs checks the generated Terraform against.
//
// The package is large (361 MB unpacked: a 120 MB .jsii manifest and the generated bindings), so it
// is a devDependency that `scripts/install-deps` does not install. To move to another release (pick
// one whose package.json `cdktf.provider.version` the generated required_providers admits):
//
//   cd tests/js && npm install --save-dev --save-exact @cdktf/provider-aws@X
//   node extract-aws-schema.mjs && npm prune --omit=dev
//
// (to re-extract the pinned release: npm ci && node extract-aws-schema.mjs && npm prune --omit=dev)
//
// Only the .jsii manifest is read. cdktf generates one class per resource and data source (its doc
// links name the Terraform type), and one config struct per type and per nested block whose
// properties are the schema's arguments: a property's doc link ends in #<terraform name>, a
// property without `optional` is required, a property documented as "<name> block." is a nested
// block (a struct: at most one; an array of structs: any number), a struct-typed property that is
// not documented as a block is an attribute of object type (Terraform also accepts block syntax for
// lists and sets of objects, as in aws_security_group's ingress). Computed-only attributes are
// getters of the class, not config properties, so they are (rightly) absent.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const packageName = '@cdktf/provider-aws';
const packageDir = join(here, 'node_modules', ...packageName.split('/'));

const pinned = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8')).devDependencies[packageName];
const locked = JSON.parse(readFileSync(join(here, 'package-lock.json'), 'utf8')).packages[`node_modules/${packageName}`];
const installed = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
if (installed.version !== pinned || locked.version !== pinned)
  throw new Error(`${packageName}: package.json pins ${pinned}, the lock has ${locked.version}, node_modules has ${installed.version}; run npm ci`);

const jsii = JSON.parse(readFileSync(join(packageDir, '.jsii'), 'utf8'));
const types = jsii.types;

// "{@link https://registry.terraform.io/providers/hashicorp/aws/5.100.0/docs/resources/lb#name Lb#name}"
const docText = (p) => `${p.docs?.summary ?? ''} ${p.docs?.remarks ?? ''}`;
function terraformName(p) {
  const m = docText(p).match(/\{@link https:\/\/registry\.terraform\.io\/providers\/[^ }]*#([a-z0-9_]+) [^}]*\}/);
  if (!m) throw new Error(`no Terraform name in the docs of ${p.name}`);
  return m[1];
}

// The structs a property's type mentions, and whether it is a list of them (rather than one).
function structsOf(type) {
  if (type.fqn) return types[type.fqn]?.datatype ? { fqn: type.fqn, many: false } : null;
  if (type.collection) {
    const inner = structsOf(type.collection.elementtype);
    return inner && { fqn: inner.fqn, many: true };
  }
  if (type.union) return type.union.types.map(structsOf).find(Boolean) ?? null;
  return null;
}

// Whether an attribute's value may be a list of objects (a list of maps, say), which looks like
// block syntax in @cdktf/hcl2json's output; for every other attribute, that would be an error.
function takesObjectList(type) {
  if (type.primitive === 'any') return true;
  if (type.union) return type.union.types.some(takesObjectList);
  if (type.collection?.kind === 'array') {
    const e = type.collection.elementtype;
    return e.primitive === 'any' || e.collection?.kind === 'map' || Boolean(e.union?.types.some((u) => u.collection?.kind === 'map'));
  }
  return false;
}

// { required: [names], optional: [names], objects: [names of attributes that take lists of
//   objects], blocks: { name: { min, max, attribute, any, ...schema } } }
function schemaOf(fqn) {
  const out = { required: [], optional: [], objects: [], blocks: {} };
  for (const p of types[fqn].properties ?? []) {
    const name = terraformName(p);
    const isBlock = new RegExp(`^${name} block\\.?$`).test((p.docs?.summary ?? '').trim());
    const struct = structsOf(p.type);
    if (!isBlock && !struct) {
      out[p.optional ? 'optional' : 'required'].push(name);
      if (takesObjectList(p.type)) out.objects.push(name);
      continue;
    }
    const block = {};
    if (!p.optional) block.min = 1;
    if (!isBlock) block.attribute = true; // an attribute of object type: either syntax
    if (struct && !struct.many) block.max = 1;
    if (!struct) block.any = true; // cdktf gave up on a too-deep schema (e.g. wafv2 statement): contents unchecked
    else Object.assign(block, schemaOf(struct.fqn));
    out.blocks[name] = block;
  }
  out.required.sort();
  out.optional.sort();
  out.blocks = Object.fromEntries(Object.entries(out.blocks).sort(([a], [b]) => a.localeCompare(b)));
  if (!out.required.length) delete out.required;
  if (!out.optional.length) delete out.optional;
  if (!out.objects.length) delete out.objects;
  if (!Object.keys(out.blocks).length) delete out.blocks;
  return out;
}

const kinds = { 'cdktf.TerraformResource': 'resource', 'cdktf.TerraformDataSource': 'data' };
const schema = { resource: {}, data: {} };
let provider;
for (const t of Object.values(types)) {
  if (t.kind !== 'class' || t.assembly !== packageName) continue;
  const config = t.initializer?.parameters?.find((p) => p.name === 'config')?.type?.fqn;
  if (t.base === 'cdktf.TerraformProvider') {
    provider = schemaOf(config);
    continue;
  }
  const kind = kinds[t.base];
  if (!kind) continue;
  // "Represents a {@link https://registry.terraform.io/providers/hashicorp/aws/5.100.0/docs/resources/lb aws_lb}."
  const m = t.docs.summary.match(/\{@link https:\/\/registry\.terraform\.io\/providers\/\S+\/docs\/(resources|data-sources)\/\S+ (aws_[a-z0-9_]+)\}/);
  if (!m || (m[1] === 'resources') !== (kind === 'resource')) throw new Error(`${t.fqn}: unexpected summary ${t.docs.summary}`);
  if (schema[kind][m[2]]) throw new Error(`${kind} ${m[2]} twice`);
  schema[kind][m[2]] = schemaOf(config);
}
if (!provider) throw new Error('no provider class');

const providerVersion = jsii.readme.markdown.match(/hashicorp\/aws provider version (\d+\.\d+\.\d+)/)?.[1];
if (!providerVersion || providerVersion !== installed.cdktf?.provider?.version)
  throw new Error(`provider version: README says ${providerVersion}, package.json ${installed.cdktf?.provider?.version}`);

// One type per line, so a version bump shows as a readable diff.
const header = {
  comment: 'Generated by tests/js/extract-aws-schema.mjs from the pinned @cdktf/provider-aws; do not edit',
  package: packageName,
  version: installed.version,
  integrity: locked.integrity,
  jsii_fingerprint: jsii.fingerprint,
  terraform_provider: installed.cdktf.provider.name,
  terraform_provider_version: providerVersion,
  extractor_sha256: createHash('sha256').update(readFileSync(fileURLToPath(import.meta.url))).digest('hex'),
};
const lines = ['{'];
for (const [k, v] of Object.entries(header)) lines.push(`  ${JSON.stringify(k)}: ${JSON.stringify(v)},`);
lines.push(`  "provider": ${JSON.stringify(provider)},`);
for (const kind of ['resource', 'data']) {
  const names = Object.keys(schema[kind]).sort();
  lines.push(`  ${JSON.stringify(kind)}: {`);
  names.forEach((n, i) => lines.push(`    ${JSON.stringify(n)}: ${JSON.stringify(schema[kind][n])}${i < names.length - 1 ? ',' : ''}`));
  lines.push(kind === 'data' ? '  }' : '  },');
}
lines.push('}');
const out = join(here, 'aws-schema.json');
writeFileSync(out, `${lines.join('\n')}\n`);
console.log(`${out}: ${Object.keys(schema.resource).length} resources, ${Object.keys(schema.data).length} data sources ` +
  `of hashicorp/aws ${providerVersion} (${packageName} ${installed.version})`);
