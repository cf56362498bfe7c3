// Every image the project ships, built and run with the machine's container engine (Podman here,
// Docker where its daemon answers): each builds, runs as an unprivileged user, reports healthy
// through its own health check, stops on SIGTERM within 2 s, and stays small.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const version = /project\(exosphere VERSION ([0-9.]+)/.exec(readFileSync(join(root, 'CMakeLists.txt'), 'utf8'))[1];

const dockerWorks = spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0;
const engine = dockerWorks ? 'docker' : 'podman';
const run = (...args) => execFileSync(engine, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const tryRun = (...args) => spawnSync(engine, args, { encoding: 'utf8' });
// As exo builds: Docker's image format (health checks) and the machine's certificate authorities.
const hostCa = '/etc/ssl/certs/ca-certificates.crt';
const buildFlags = [...(engine === 'podman' ? ['--format', 'docker'] : []),
                    ...(existsSync(hostCa) ? ['--secret', `id=host-ca,src=${hostCa}`] : [])];

// What `exo add` writes from each shipped template, in an application of its own.
const exo = process.env.EXO_BINARY;
const scaffold = mkdtempSync(join(tmpdir(), 'exo-images-'));
const templates = ['exoservice-cpp', 'exoservice-cpp-mongodb', 'htmlserver-cpp', 'exoservice-js'];

// The C++ services of the repository and the templates' services, by the role they play in the test.
const services = [
  ...templates.map((t) => ({ name: `template-${t}`, dir: join(scaffold, 'app', t.replace(/-/g, '')), role: t.replace(/-/g, '') })),
  { name: 'users-service', dir: join(root, 'services/users-service'), role: 'users' },
  { name: 'tweets-service', dir: join(root, 'services/tweets-service'), role: 'tweets' },
  { name: 'mongodb-service', dir: join(root, 'services/mongodb-service'), role: 'mongo' },
  { name: 'space-tweet-web', dir: join(root, 'examples/space-tweet/web-server'), role: 'web' },
];
const tag = (name) => `exo-images-test/${name}:latest`;
const network = `exo-images-test-${process.pid}`;
const routes = JSON.stringify(Object.fromEntries(services.map((s) => [s.role, { receives: [], sends: [] }])));
const started = [];

// A health check: Docker runs it by itself; Podman without systemd runs it when asked.
function healthy(container) {
  if (engine === 'podman') return tryRun('healthcheck', 'run', container).status === 0;
  return run('inspect', '--format', '{{.State.Health.Status}}', container) === 'healthy';
}

async function waitHealthy(container, seconds = 20) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (healthy(container)) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

function start(name, image, env = {}, extra = []) {
  const args = ['run', '-d', '--name', name, '--network', network, '--network-alias', name];
  for (const [k, v] of Object.entries(env)) args.push('-e', `${k}=${v}`);
  run(...args, ...extra, image);
  started.push(name);
}

// SIGTERM, then the engine's kill after 10 s: the container must be gone well before that.
function stopWithin(name) {
  const t0 = Date.now();
  tryRun('stop', '--time', '10', name);
  const took = Date.now() - t0;
  const code = Number(run('inspect', '--format', '{{.State.ExitCode}}', name));
  return { took, code };
}

function logs(name) {
  const r = tryRun('logs', name);
  return `${r.stdout}${r.stderr}`;
}

before(() => {
  assert.ok(exo, 'EXO_BINARY names the exo to scaffold with');
  mkdirSync(join(scaffold, 'app'));
  writeFileSync(join(scaffold, 'app', 'application.yml'), 'name: app\nservices:\n  public:\n  private:\n');
  for (const t of templates) {
    const role = t.replace(/-/g, '');
    execFileSync(exo, ['add', `--service-role=${role}`, `--service-type=${role}`, '--description=a thing', '--author=me',
                       `--template-name=${t}`, '--model-name=note', '--protection-level=private'],
                 { cwd: join(scaffold, 'app'), stdio: 'ignore' });
  }
  execFileSync(join(root, 'docker', 'build-images'), { stdio: ['ignore', 'inherit', 'inherit'] });
  run('network', 'create', network);
});

after(() => {
  for (const name of started) tryRun('rm', '-f', name);
  tryRun('network', 'rm', network);
  tryRun('image', 'prune', '-f');  // the images these builds replaced
  rmSync(scaffold, { recursive: true, force: true });
});

test('exocom image: unprivileged, healthy on /status, published on loopback', async () => {
  const image = `exosphere/exocom:${version}`;
  start('exocom', image, { SERVICE_DATA: routes }, ['--publish', '127.0.0.1::80']);
  assert.ok(await waitHealthy('exocom'), `exocom did not become healthy:\n${logs('exocom')}`);
  assert.notEqual(run('exec', 'exocom', 'id', '-u'), '0', 'ExoCom runs as root');
  // Published on loopback only.
  assert.match(run('port', 'exocom', '80/tcp'), /^127\.0\.0\.1:\d+$/);
});

for (const s of services) {
  test(`${s.name} image: builds from its folder, unprivileged, healthy once registered, stops within 2 s`, async () => {
    const built = tryRun('build', ...buildFlags, '-t', tag(s.name), s.dir);
    assert.equal(built.status, 0, `${s.name} did not build:\n${built.stdout}\n${built.stderr}`);
    const name = `svc-${s.role}`;
    start(name, tag(s.name), { ROLE: s.role, EXOCOM_HOST: 'exocom', EXOCOM_PORT: '80' });
    assert.ok(await waitHealthy(name), `${s.name} did not become healthy:\n${logs(name)}`);
    assert.notEqual(run('exec', name, 'id', '-u'), '0', `${s.name} runs as root`);
    const { took, code } = stopWithin(name);
    assert.ok(took < 2000, `${s.name} took ${took} ms to stop on SIGTERM`);
    // 0: it stopped as docs/architecture.md ("Stopping") says; 143 would be the signal's default action.
    assert.equal(code, 0, `${s.name} exited with ${code} on SIGTERM:\n${logs(name)}`);
  });
}

test('proxy image: unprivileged, healthy, answers unknown host names with 404, stops within 2 s', async () => {
  start('proxy', `exosphere/proxy:${version}`, {}, ['--publish', '127.0.0.1::8080']);
  assert.ok(await waitHealthy('proxy'), `the proxy did not become healthy:\n${logs('proxy')}`);
  assert.notEqual(run('exec', 'proxy', 'id', '-u'), '0', 'the proxy runs as root');
  const port = run('port', 'proxy', '8080/tcp').split(':').pop();
  const status = await new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/', headers: { host: 'nobody.example.com' } }, (r) => {
      r.resume();
      resolve(r.statusCode);
    }).on('error', reject);
  });
  assert.equal(status, 404);
  const { took, code } = stopWithin('proxy');
  assert.ok(took < 2000, `the proxy took ${took} ms to stop`);
  assert.ok(code === 0 || code === 143, `the proxy exited with ${code}:\n${logs('proxy')}`);
});

test('exocom stops on SIGTERM within 2 s', () => {
  const { took, code } = stopWithin('exocom');
  assert.ok(took < 2000, `exocom took ${took} ms to stop`);
  assert.equal(code, 0, logs('exocom'));
});

// Runtime images are the Debian minbase plus the shared libraries the programs link: the base
// image's size plus a margin for those libraries (C++: Boost, yaml-cpp, SQLite, libpq, libmongoc,
// OpenSSL, ...; JavaScript: Debian's libnode and ICU), stated in docs/deploy.md.
test('runtime images are small', () => {
  const size = (image) => Number(run('image', 'inspect', '--format', '{{.Size}}', image)) / 1e6;
  const base = size('docker.io/library/debian:bookworm');
  const js = (image) => image.includes('exoservice-js') || image.startsWith('exosphere/node');
  for (const image of [`exosphere/runtime:${version}`, `exosphere/exocom:${version}`, `exosphere/node:${version}`,
                       `exosphere/proxy:${version}`,
                       ...services.map((s) => tag(s.name))]) {
    const limit = base + (js(image) ? 110 : 80);
    assert.ok(size(image) <= limit, `${image} is ${size(image).toFixed(0)} MB, more than ${limit.toFixed(0)} MB`);
  }
});
