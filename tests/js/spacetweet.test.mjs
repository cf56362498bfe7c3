// SpaceTweet in a real browser (headless Chromium), however it runs: `make run` (the README's
// command), `exo run --docker`, and the production rehearsal. Sign up, tweet, watch the tweet
// appear live in another person's page and the "posted" message in the author's other tab, delete
// it and watch it go. The stories of accounts and their refusals: spacetweet_accounts.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

import { descendants, freePort, launchChromium, signUp, startMake, startSpaceTweet, tweet } from './space_tweet_pages.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const version = /project\(exosphere VERSION ([0-9.]+)/.exec(readFileSync(join(root, 'CMakeLists.txt'), 'utf8'))[1];

// What people do with SpaceTweet, however it runs.
async function signUpTweetDelete(t, app) {
  const browser = await launchChromium();
  t.after(async () => {
    await browser.close();
    await app.stop();
  });
  assert.match(app.output(), new RegExp(`'web' serves ${app.url.replace(/[.]/g, '\\.')}`));

  // Ro, in two tabs: the home page, and her own page. (Names are unique, and `exo run --docker`
  // keeps its data between runs: each run signs up a name of its own.)
  const name = `Ensign <Ro> ${Date.now().toString(36)}`;
  const ro = await browser.newContext();
  const writer = await ro.newPage();
  await signUp(writer, app.url, name, 'bajor-1234');
  assert.equal(await writer.textContent('#me'), name, 'logged in, and the name is text, not markup');
  const ownPage = await ro.newPage();
  await ownPage.goto(`${app.url}${await writer.getAttribute('#me', 'href')}`);
  await ownPage.waitForSelector('body[data-joined="yes"]');

  // Someone else, not logged in.
  const reader = await (await browser.newContext()).newPage();
  await reader.goto(app.url);
  await reader.waitForSelector('body[data-live="yes"]');

  await tweet(writer, app.url, 'Greetings from the <b>Enterprise</b>');
  // The other pages never reload: the tweet arrives through the gateway.
  const live = reader.locator('#tweets li', { hasText: 'Greetings from the <b>Enterprise</b>' });
  await live.waitFor({ timeout: 10000 });
  assert.equal(await live.locator('.author').textContent(), name);
  assert.equal(await reader.locator('#tweets b').count(), 0, 'tweet text is not markup');
  assert.equal(await live.locator('button').count(), 0, 'no delete button on somebody else\'s tweet');
  await ownPage.locator('#tweets li', { hasText: 'Greetings from the' }).waitFor({ timeout: 10000 });
  // A message for Ro only, in her other tab.
  await ownPage.locator('#notice', { hasText: 'Your tweet is posted.' }).waitFor({ timeout: 10000 });

  const mine = writer.locator('#tweets li', { hasText: 'Greetings from the <b>Enterprise</b>' });
  await mine.locator('button').click();
  await writer.waitForURL(`${app.url}/`);
  assert.equal(await writer.locator('#tweets li', { hasText: 'Greetings from the' }).count(), 0);
  await live.waitFor({ state: 'detached', timeout: 10000 });
  // The removal was sent after Ro's message: had the reader's page got that message, it would show by now.
  assert.equal(await reader.locator('#notice').isHidden(), true, 'a message for Ro reached someone else');
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
  const app = await startMake('rehearse', `--port ${port}`, `http://spacetweet.example.com.localhost:${port}`,
                              { ready: /browsers reach ExoCom's gateway at [^\n]*\n/ });
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

test('kill -9 of ExoCom: a new one runs, the services come back, a tweet goes through, within 3 s', { timeout: 900000 }, async (t) => {
  const app = await startSpaceTweet();
  const browser = await launchChromium();
  t.after(async () => {
    await browser.close();
    await app.stop();
  });
  const page = await browser.newPage();
  await signUp(page, app.url, 'Data', 'soong-type');

  const [exocom] = descendants(app.pid, 'src/exocom/exocom');
  assert.ok(exocom, 'ExoCom runs under exo run');
  const killed = Date.now();
  process.kill(exocom, 'SIGKILL');

  await page.goto(app.url);
  const form = page.locator('#new-tweet textarea');
  await form.waitFor({ timeout: 10000 }).catch(async () => {
    throw new Error(`no tweet form after the restart:\n${await page.content()}\n${app.output().slice(-4000)}`);
  });
  await tweet(page, app.url, 'Still here after the bus went down');
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
  await signUp(page, app.url, 'Worf', 'kahless-1');

  // The tweets service starts on the second node (services are spread in turn).
  const [node] = descendants(app.pid, 'exocom-2');
  assert.ok(node, 'ExoCom node exocom-2 runs under exo run');
  const texts = [];
  for (let i = 0; i < 20; i++) {
    if (i === 5) process.kill(node, 'SIGKILL');
    const text = `Qapla number ${i}`;
    texts.push(text);
    await tweet(page, app.url, text);
  }
  for (const text of texts) {
    const found = page.locator('#tweets li .content').filter({ hasText: new RegExp(`^${text}$`) });
    assert.equal(await found.count(), 1, `'${text}' is listed once:\n${app.output().slice(-3000)}`);
  }
  assert.match(app.output(), /ExoCom node exocom-2 is running again at port/);
});
