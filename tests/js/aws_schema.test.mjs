// The generated Terraform against the hashicorp/aws provider's schema, offline (`terraform validate`
// needs the provider, which cannot be downloaded here). The schema is aws-schema.json, extracted by
// extract-aws-schema.mjs from the @cdktf/provider-aws release package.json pins; see that script.
//
// Checked, for every .tf file of every golden app (tests/golden/terraform/<app>/, which e2e_cli keeps
// equal to what `exo generate terraform` writes) and of every module exo ships (src/deploy/modules/):
// each resource and data type exists; each argument and nested block (recursively, through
// `dynamic` blocks too) is in the type's schema; every required argument and block is set; a block
// is written as a block and one allowed once appears once; lifecycle.ignore_changes names arguments;
// the provider "aws" block. Not checked: the values (types, enums, references).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

import { parse } from '@cdktf/hcl2json';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const schema = JSON.parse(readFileSync(join(here, 'aws-schema.json'), 'utf8'));

// Types of other providers (and Terraform's own) that the generated Terraform may use unchecked:
// terraform_data (built in), null_resource and null_data_source (hashicorp/null), random_*
// (hashicorp/random), tls_* (hashicorp/tls), time_* (hashicorp/time). Any other non-aws type fails.
const unchecked = /^(terraform_data|null_resource|null_data_source|random_[a-z0-9_]+|tls_[a-z0-9_]+|time_[a-z0-9_]+)$/;

// Meta-arguments Terraform itself handles, per block kind (`timeouts` is not one: the provider
// declares it per type, and the schema has it where the type supports it).
const meta = {
  resource: new Set(['count', 'for_each', 'depends_on', 'provider', 'lifecycle', 'provisioner', 'connection']),
  data: new Set(['count', 'for_each', 'depends_on', 'provider', 'lifecycle']),
  provider: new Set(['alias', 'version']),
};
const lifecycleArguments = new Set(['create_before_destroy', 'prevent_destroy', 'ignore_changes', 'replace_triggered_by',
  'precondition', 'postcondition']);

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isBlockList = (v) => Array.isArray(v) && v.every(isObject);

// The problems of one block body (as @cdktf/hcl2json gives it) against a schema node
// { required, optional, objects, blocks: { name: { min, max, attribute, any, ...node } } }; `path` names
// the nested block ("default_action.redirect") in messages.
function checkBody(body, node, { skip = new Set(), path = '' } = {}) {
  const problems = [];
  const at = (name) => `${path}${name}`;
  const args = new Set([...(node.required ?? []), ...(node.optional ?? [])]);
  const blocks = node.blocks ?? {};
  const dynamic = body.dynamic ?? {};
  const nested = (name, content) =>
    blocks[name].any ? [] : checkBody(content, blocks[name], { path: `${at(name)}.` });

  for (const [name, value] of Object.entries(body)) {
    if (skip.has(name) || name === 'dynamic') continue;
    if (args.has(name)) {
      // `tags { ... }` for a map, say (or a list of objects for a string): not a value it takes.
      if (isBlockList(value) && value.length > 0 && !node.objects?.includes(name))
        problems.push(`argument '${at(name)}' is written as a block (or given a list of objects)`);
      continue;
    }
    if (name in blocks) {
      const block = blocks[name];
      if (!isBlockList(value)) {
        // An attribute of object type (such as aws_security_group's ingress) may be an expression.
        if (!block.attribute) problems.push(`block '${at(name)}' is written as an argument (${name} = ...)`);
        continue;
      }
      if (block.max === 1 && value.length > 1) problems.push(`block '${at(name)}' appears ${value.length} times (at most once)`);
      for (const content of value) problems.push(...nested(name, content));
      continue;
    }
    problems.push(`unknown ${isBlockList(value) ? 'block' : 'argument'} '${at(name)}'`);
  }

  for (const [name, generators] of Object.entries(dynamic)) {
    if (!(name in blocks)) {
      problems.push(`unknown block 'dynamic "${at(name)}"'`);
      continue;
    }
    for (const generator of generators) {
      for (const key of Object.keys(generator))
        if (!['for_each', 'iterator', 'labels', 'content'].includes(key)) problems.push(`dynamic "${at(name)}": unknown argument '${key}'`);
      if (!('for_each' in generator)) problems.push(`dynamic "${at(name)}": no for_each`);
      if (!isBlockList(generator.content) || generator.content.length !== 1) problems.push(`dynamic "${at(name)}": needs one content block`);
      else problems.push(...nested(name, generator.content[0]));
    }
  }

  for (const name of node.required ?? []) if (!(name in body)) problems.push(`missing required argument '${at(name)}'`);
  for (const [name, block] of Object.entries(blocks))
    if (block.min && !(name in body) && !(name in dynamic)) problems.push(`missing required block '${at(name)}'`);
  return problems;
}

// lifecycle { ... }: known arguments; ignore_changes names arguments or blocks of the type.
function checkLifecycle(lifecycles, node) {
  const problems = [];
  const names = new Set([...(node.required ?? []), ...(node.optional ?? []), ...Object.keys(node.blocks ?? {})]);
  for (const lifecycle of lifecycles) {
    for (const key of Object.keys(lifecycle)) if (!lifecycleArguments.has(key)) problems.push(`lifecycle: unknown argument '${key}'`);
    const ignored = lifecycle.ignore_changes;
    if (ignored === undefined || ignored === 'all' || ignored === '${all}') continue;
    for (const item of [ignored].flat())
      for (const ref of String(item).replace(/^\$\{\[?|\]?\}$/g, '').split(',').map((s) => s.trim()).filter(Boolean)) {
        const first = ref.match(/^[A-Za-z_][A-Za-z0-9_-]*/)?.[0];
        if (first !== 'all' && !names.has(first)) problems.push(`lifecycle: ignore_changes names '${first}', not an argument of this type`);
      }
  }
  return problems;
}

// Every resource, data source and provider "aws" block of one parsed file; `checked` counts them.
function checkFile(file, parsed, checked = {}) {
  const problems = [];
  for (const kind of ['resource', 'data']) {
    for (const [type, byName] of Object.entries(parsed[kind] ?? {})) {
      for (const [name, bodies] of Object.entries(byName)) {
        const address = `${kind === 'data' ? 'data.' : ''}${type}.${name}`;
        if (!type.startsWith('aws_')) {
          if (!unchecked.test(type)) problems.push(`${file}: ${address}: ${type} is neither an aws type nor one this check knows to skip`);
          continue;
        }
        const node = schema[kind][type];
        if (!node) {
          problems.push(`${file}: ${address}: unknown ${kind === 'data' ? 'data source' : 'resource'} type '${type}' in hashicorp/aws ${schema.terraform_provider_version}`);
          continue;
        }
        for (const body of bodies) {
          checked[kind] = (checked[kind] ?? 0) + 1;
          problems.push(...checkBody(body, node, { skip: meta[kind] }).map((p) => `${file}: ${address}: ${p}`));
          if (body.lifecycle) problems.push(...checkLifecycle(body.lifecycle, node).map((p) => `${file}: ${address}: ${p}`));
        }
      }
    }
  }
  for (const body of parsed.provider?.aws ?? [])
    problems.push(...checkBody(body, schema.provider, { skip: meta.provider }).map((p) => `${file}: provider "aws": ${p}`));
  return problems;
}

async function checkDirectory(dir, checked) {
  const problems = [];
  const files = readdirSync(dir).filter((f) => f.endsWith('.tf')).sort();
  assert.ok(files.length > 0, `${dir}: no .tf files`);
  for (const f of files) {
    const file = relative(root, join(dir, f));
    let parsed;
    try {
      parsed = await parse(f, readFileSync(join(dir, f), 'utf8'));
    } catch (e) {
      problems.push(`${file}: does not parse: ${e.message || e}`);
      continue;
    }
    problems.push(...checkFile(file, parsed, checked));
  }
  return problems;
}

const report = (problems) => `${problems.length} problem(s) against hashicorp/aws ${schema.terraform_provider_version}:\n  ${problems.join('\n  ')}`;
const subdirectories = (dir) => readdirSync(dir).filter((d) => statSync(join(dir, d)).isDirectory()).sort();

// `version` of a required_providers entry admits `v` ("~> 5.80", ">= 5.0, < 6.0", ...).
function admits(constraint, v) {
  const parts = (s) => s.split('.').map(Number);
  const compare = (a, b) => {
    for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
    return 0;
  };
  const have = parts(v);
  return constraint.split(',').every((c) => {
    const [, op = '=', ver] = c.trim().match(/^(~>|>=|<=|!=|>|<|=)?\s*(\d+(?:\.\d+)*)$/) ?? [];
    assert.ok(ver, `cannot read the version constraint "${constraint}"`);
    const want = parts(ver);
    const d = compare(have, want);
    if (op === '~>') {
      const upper = want.slice(0, Math.max(want.length - 1, 1));
      upper[upper.length - 1] += 1;
      return d >= 0 && compare(have, upper) < 0;
    }
    return { '=': d === 0, '!=': d !== 0, '>': d > 0, '>=': d >= 0, '<': d < 0, '<=': d <= 0 }[op];
  });
}

test('the schema extract is the pinned @cdktf/provider-aws, extracted by the current script', () => {
  const pkg = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));
  const lock = JSON.parse(readFileSync(join(here, 'package-lock.json'), 'utf8')).packages[`node_modules/${schema.package}`];
  const regenerate = 'regenerate it: cd tests/js && npm ci && node extract-aws-schema.mjs && npm prune --omit=dev';
  const pinned = pkg.devDependencies?.[schema.package];
  assert.equal(pinned, schema.version, `package.json pins ${schema.package} ${pinned}, aws-schema.json is from ${schema.version}; ${regenerate}`);
  assert.ok(lock, `package-lock.json has no ${schema.package}; run npm install in tests/js`);
  assert.equal(lock.version, schema.version, `package-lock.json has ${schema.package} ${lock.version}; run npm install in tests/js`);
  assert.equal(lock.integrity, schema.integrity, `package-lock.json's ${schema.package} is not the tarball aws-schema.json came from; ${regenerate}`);
  const script = createHash('sha256').update(readFileSync(join(here, 'extract-aws-schema.mjs'))).digest('hex');
  assert.equal(script, schema.extractor_sha256, `extract-aws-schema.mjs changed since aws-schema.json was extracted; ${regenerate}`);
  const installed = join(here, 'node_modules', ...schema.package.split('/'), 'package.json');
  if (existsSync(installed)) { // a devDependency: present only after a full `npm ci`
    const version = JSON.parse(readFileSync(installed, 'utf8')).version;
    assert.equal(version, schema.version, `node_modules has ${schema.package} ${version}; run npm ci in tests/js`);
  }
  assert.ok(Object.keys(schema.resource).length > 1000 && Object.keys(schema.data).length > 400, 'the extract is incomplete');
});

const goldenRoot = join(root, 'tests', 'golden', 'terraform');
const apps = subdirectories(goldenRoot);
assert.ok(apps.length > 0);

for (const app of apps) {
  test(`golden ${app}: every resource and data source fits the hashicorp/aws schema`, async (t) => {
    const dir = join(goldenRoot, app);
    // The provider the schema comes from is one `terraform init` may pick for this Terraform.
    const main = await parse('main.tf', readFileSync(join(dir, 'main.tf'), 'utf8'));
    const aws = main.terraform?.flatMap((t) => t.required_providers ?? []).map((r) => r.aws).find(Boolean);
    assert.ok(aws, `${app}/main.tf: no required_providers aws`);
    assert.equal(aws.source, 'hashicorp/aws');
    assert.ok(admits(aws.version, schema.terraform_provider_version),
      `${app}/main.tf requires aws "${aws.version}"; the schema is of ${schema.terraform_provider_version} (${schema.package} ${schema.version}): pin a matching release`);

    const checked = {};
    const problems = await checkDirectory(dir, checked);
    if (existsSync(join(dir, 'modules')))
      for (const m of subdirectories(join(dir, 'modules'))) problems.push(...await checkDirectory(join(dir, 'modules', m), checked));
    t.diagnostic(`${checked.resource ?? 0} resources, ${checked.data ?? 0} data sources`);
    assert.deepEqual(problems, [], report(problems));
  });
}

const modulesRoot = join(root, 'src', 'deploy', 'modules');
for (const module of subdirectories(modulesRoot)) {
  test(`module ${module}: every resource and data source fits the hashicorp/aws schema`, async (t) => {
    const checked = {};
    const problems = await checkDirectory(join(modulesRoot, module), checked);
    t.diagnostic(`${checked.resource ?? 0} resources, ${checked.data ?? 0} data sources`);
    assert.ok(checked.resource || checked.data, 'nothing to check');
    assert.deepEqual(problems, [], report(problems));
  });
}

test('the check reports what terraform validate would (it can fail)', async () => {
  const hcl = `
provider "aws" {
  regoin = "x"
}
resource "aws_lb" "public" {
  foo = 1
  access_logs {
    prefix = "p"
  }
  access_logs {
    bucket = "b"
  }
  lifecycle {
    ignore_changes = [bar]
  }
}
resource "aws_lb_listener" "http" {
  load_balancer_arn = "arn"
  default_action = { type = "forward" }
}
resource "aws_lb_listener" "https" {
  dynamic "default_action" {
    for_each = [1]
    content {
      redirect {
        status_code = "HTTP_301"
        port        = 443
      }
    }
  }
}
resource "aws_security_group" "ok" {
  ingress = var.rules
  dynamic "ingress" {
    for_each = [1]
    content {
      from_port = 1
      to_port   = 1
      protocl   = "tcp"
    }
  }
}
resource "aws_lbb" "typo" {}
resource "aws_iam_role" "r" {
  assume_role_policy = "{}"
  tags {
    Name = "x"
  }
}
data "aws_region" "current" {
  nmae = "x"
}
resource "random_id" "ok" {}
resource "awz_thing" "x" {}
`;
  const problems = checkFile('main.tf', await parse('main.tf', hcl));
  assert.deepEqual(problems.sort(), [
    "main.tf: aws_lb.public: block 'access_logs' appears 2 times (at most once)",
    "main.tf: aws_lb.public: lifecycle: ignore_changes names 'bar', not an argument of this type",
    "main.tf: aws_lb.public: missing required argument 'access_logs.bucket'",
    "main.tf: aws_lb.public: unknown argument 'foo'",
    "main.tf: aws_iam_role.r: argument 'tags' is written as a block (or given a list of objects)",
    "main.tf: aws_lb_listener.http: block 'default_action' is written as an argument (default_action = ...)",
    "main.tf: aws_lb_listener.https: missing required argument 'default_action.type'",
    "main.tf: aws_lb_listener.https: missing required argument 'load_balancer_arn'",
    "main.tf: aws_lbb.typo: unknown resource type 'aws_lbb' in hashicorp/aws 5.100.0",
    "main.tf: aws_security_group.ok: unknown argument 'ingress.protocl'",
    "main.tf: awz_thing.x: awz_thing is neither an aws type nor one this check knows to skip",
    "main.tf: data.aws_region.current: unknown argument 'nmae'",
    'main.tf: provider "aws": unknown argument \'regoin\'',
  ].map((p) => p.replace('5.100.0', schema.terraform_provider_version)).sort());
  // The redirect block's required status_code is set; its port is an argument.
  assert.ok(!problems.some((p) => p.includes('redirect')));
});

test('version constraints are read as Terraform does', () => {
  assert.ok(admits('~> 5.80', '5.100.0'));
  assert.ok(admits('~> 5.80', '5.80.0'));
  assert.ok(!admits('~> 5.80', '6.0.0'));
  assert.ok(!admits('~> 5.80', '5.79.1'));
  assert.ok(admits('~> 5.80.1', '5.80.9'));
  assert.ok(!admits('~> 5.80.1', '5.81.0'));
  assert.ok(admits('>= 5.0, < 6.0', '5.100.0'));
  assert.ok(!admits('>= 5.0, < 6.0', '6.0.0'));
});
