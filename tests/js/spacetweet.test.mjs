// SpaceTweet in a real browser (headless Chromium), started by the README's command: sign up,
// tweet, watch the tweet appear live in a second page, delete it and watch it go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

import { freePort, launchChromium, signUp, tweet } from './space_tweet_pages.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const version = /project\(exosphere VERSION ([0-9.]+)/.exec(readFileSync(join(root, 'CMakeLists.txt'), 'utf8'))[1];



// `make <target> RUN_ARGS=...` until its output matches `ready` (the last line it prints once
// everything is online: lines can arrive in more than one chunk); `url` is SpaceTweet's.
async function startMake(target, runArgs, url, cleanup = () => {}, ready = /'web' serves [^\n]*\n/) {
  const child = spawn('make', ['--no-print-directory', target, `RUN_ARGS=${runArgs}`],
                      { cwd: root, detached: true, env: { ...process.env, NO_COLOR: '1' } });
  let output = '';
  const online = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`SpaceTweet did not start:\n${output}`)), 600000);
    const seen = (chunk) => {
      output += chunk;
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.on('exit', (code) => reject(new Error(`make ${target} exited with ${code}:\n${output}`)));
  });
  await online;
  return {
    url,
    output: () => output,
    pid: child.pid,
    stop: () => new Promise((resolve) => {
      child.on('exit', () => {
        cleanup();
        resolve();
      });
      process.kill(-child.pid, 'SIGINT');
    }),
  };
}

// `make run`, with ports the OS chose and a data folder of its own (and `extra` exo run flags).
async function startSpaceTweet(extra = '') {
  const web = await freePort();
  const gateway = await freePort();
  const data = mkdtempSync(join(tmpdir(), 'spacetweet-'));
  return startMake('run', `--port web=${web} --gateway-port ${gateway} --data-dir ${data} ${extra}`, `http://localhost:${web}`,
                   () => rmSync(data, { recursive: true, force: true }));
}

// What a user does with SpaceTweet, however it runs.
async function signUpTweetDelete(t, app) {
  const browser = await launchChromium();
  t.after(async () => {
    await browser.close();
    await app.stop();
  });
  assert.match(app.output(), new RegExp(`'web' serves ${app.url.replace(/[.]/g, '\\.')}`));

  const writer = await browser.newPage();
  await writer.goto(`${app.url}/users`);
  await signUp(writer, 'Ensign <Ro>', 'bajor');
  await writer.waitForURL(`${app.url}/users`);
  assert.ok((await writer.textContent('#users')).includes('Ensign <Ro>'), 'the new user is listed (escaped, not markup)');

  const reader = await browser.newPage();
  await reader.goto(app.url);
  await reader.waitForSelector('body[data-live="yes"]');
  const before = Number(await reader.textContent('#count'));

  await writer.goto(app.url);
  await tweet(writer, 'Ensign <Ro>', 'Greetings from the <b>Enterprise</b>');
  await writer.waitForURL(`${app.url}/`);

  // The second page never reloads: the tweet arrives through the gateway.
  const live = reader.locator('#tweets li', { hasText: 'Greetings from the <b>Enterprise</b>' });
  await live.waitFor({ timeout: 10000 });
  assert.equal(await live.locator('.author').textContent(), 'Ensign <Ro>');
  assert.equal(Number(await reader.textContent('#count')), before + 1);
  assert.equal(await reader.locator('#tweets b').count(), 0, 'tweet text is not markup');

  const mine = writer.locator('#tweets li', { hasText: 'Greetings from the <b>Enterprise</b>' });
  await mine.locator('button').click();
  await writer.waitForURL(`${app.url}/`);
  assert.equal(await writer.locator('#tweets li', { hasText: 'Greetings from the' }).count(), 0);
  await live.waitFor({ state: 'detached', timeout: 10000 });
  assert.equal(Number(await reader.textContent('#count')), before);
}

test('sign up, tweet, see it live in another page, delete it', { timeout: 900000 }, async (t) => {
  await signUpTweetDelete(t, await startSpaceTweet());
});

// The same, with ExoCom and every service in containers built from their Dockerfiles.
test('exo run --docker: sign up, tweet, see it live in another page, delete it', { timeout: 900000 }, async (t) => {
  const app = await startSpaceTweet('--docker');
  assert.match(app.output(), /building the image of 'web'/);
  await signUpTweetDelete(t, app);
});

// The production rehearsal: the images and configuration exo deploy puts on AWS, on this machine,
// behind one proxy at http://<production URL>.localhost:<port>/ (Chromium resolves *.localhost to
// this machine). Ctrl-C leaves no container and no network behind.
test('exo deploy --rehearse production: sign up, tweet, see it live in another page, delete it', { timeout: 900000 }, async (t) => {
  const port = await freePort();
  const app = await startMake('rehearse', `--port ${port}`, `http://spacetweet.example.com.localhost:${port}`, () => {},
                              /browsers reach ExoCom's gateway at [^\n]*\n/);
  const engine = spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0 ? 'docker' : 'podman';
  const inspect = (...args) => spawnSync(engine, args, { encoding: 'utf8' });
  const stop = app.stop;
  app.stop = async () => {
    await stop();
    const left = inspect('ps', '-a', '--filter', 'label=exosphere.run=space-tweet-production', '--format', '{{.Names}}');
    assert.equal(left.stdout.trim(), '', 'containers left after Ctrl-C');
    for (const net of ['space-tweet-production-public', 'space-tweet-production-private'])
      assert.notEqual(inspect('network', 'inspect', net).status, 0, `network ${net} left after Ctrl-C`);
  };
  await signUpTweetDelete(t, app);  // registers the stop first: a failed check below still stops it
  // The public network reaches the public services, not the private ones.
  const probe = (host) => inspect('run', '--rm', '--network', 'space-tweet-production-public',
                                  `exosphere/runtime:${version}`, 'getent', 'hosts', host).status;
  assert.equal(probe('web'), 0, 'the public network does not reach web');
  assert.notEqual(probe('users'), 0, 'the public network reaches the private service users');
  assert.match(app.output(), /browsers reach ExoCom's gateway at ws:\/\/exocom\.spacetweet\.example\.com\.localhost:/);
});

// The processes below `pid` whose command line contains `needle`.
function descendants(pid, needle) {
  const parent = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch { /* gone meanwhile */ }
  }
  const below = (p) => { for (let q = parent.get(p); q; q = parent.get(q)) if (q === pid) return true; return false; };
  return [...parent.keys()].filter((p) => below(p) && (() => {
    try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(needle); } catch { return false; }
  })());
}

test('kill -9 of ExoCom: a new one runs, the services come back, a tweet goes through, within 3 s', { timeout: 900000 }, async (t) => {
  const app = await startSpaceTweet();
  const browser = await launchChromium();
  t.after(async () => {
    await browser.close();
    await app.stop();
  });
  const page = await browser.newPage();
  await page.goto(`${app.url}/users`);
  await signUp(page, 'Data', 'soong');
  await page.waitForURL(`${app.url}/users`);

  const [exocom] = descendants(app.pid, 'src/exocom/exocom');
  assert.ok(exocom, 'ExoCom runs under exo run');
  const killed = Date.now();
  process.kill(exocom, 'SIGKILL');

  await page.goto(app.url);
  const form = page.locator('#new-tweet select');
  await form.waitFor({ timeout: 10000 }).catch(async () => {
    throw new Error(`no tweet form after the restart:\n${await page.content()}\n${app.output().slice(-4000)}`);
  });
  await tweet(page, 'Data', 'Still here after the bus went down');
  await page.waitForURL(`${app.url}/`);
  await page.locator('#tweets li', { hasText: 'Still here after the bus went down' }).waitFor({ timeout: 10000 });
  const healed = Date.now() - killed;
  assert.ok(healed < 3000, `the tweet went through ${healed} ms after ExoCom was killed`);
  assert.match(app.output(), /ExoCom is running again at port/);
  const [again] = descendants(app.pid, 'src/exocom/exocom');
  assert.ok(again && again !== exocom, 'a new ExoCom runs');
});

// Three ExoCom nodes: one is killed while tweets are being posted; every tweet is there, once.
test('exo run --bus-nodes 3: kill -9 of one node loses no tweet', { timeout: 900000 }, async (t) => {
  const app = await startSpaceTweet('--bus-nodes 3');
  const browser = await launchChromium();
  t.after(async () => {
    await browser.close();
    await app.stop();
  });
  assert.match(app.output(), /nats-server \(JetStream\) is running/);
  const page = await browser.newPage();
  await page.goto(`${app.url}/users`);
  await signUp(page, 'Worf', 'kahless');
  await page.waitForURL(`${app.url}/users`);
  await page.goto(app.url);

  // The tweets service starts on the second node (services are spread in turn).
  const [node] = descendants(app.pid, 'exocom-2');
  assert.ok(node, 'ExoCom node exocom-2 runs under exo run');
  const texts = [];
  for (let i = 0; i < 20; i++) {
    if (i === 5) process.kill(node, 'SIGKILL');
    const text = `Qapla number ${i}`;
    texts.push(text);
    await tweet(page, 'Worf', text);
    await page.waitForURL(`${app.url}/`);
  }
  for (const text of texts) {
    const found = page.locator('#tweets li a.content').filter({ hasText: new RegExp(`^${text}$`) });
    assert.equal(await found.count(), 1, `'${text}' is listed once:\n${app.output().slice(-3000)}`);
  }
  assert.match(app.output(), /ExoCom node exocom-2 is running again at port/);
});
