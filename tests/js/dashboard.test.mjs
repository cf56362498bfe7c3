// The dashboard of `exo run` in a real browser (headless Chromium), with SpaceTweet running (with
// --log-payloads): the services and their states, a kill -9 seen as a crash and a restart, a tweet
// in the live trace with its payload, the graph of the routes, the restart button, and the token.
// With EXO_SCREENSHOTS=<dir> it also saves a screenshot of each view there
// (scripts/dashboard-screenshots, for docs/dashboard.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join, resolve } from 'node:path';

import { freePort, launchChromium, signUp, startSpaceTweet, tweet } from './space_tweet_pages.mjs';

const screenshots = process.env.EXO_SCREENSHOTS ? resolve(process.env.EXO_SCREENSHOTS) : '';


// A request as a stranger would make it: no cookie, no token unless given.
const httpStatus = (port, path, method = 'GET', headers = {}) => new Promise((done, fail) => {
  const r = request({ host: '127.0.0.1', port, path, method, headers: { host: `localhost:${port}`, ...headers } }, (res) => {
    res.resume();
    done(res.statusCode);
  });
  r.on('error', fail);
  r.end();
});

// SpaceTweet under `make run` with the dashboard on a port of its own, once it prints its URL.
async function startWithDashboard() {
  const dashboard = await freePort();
  const line = /dashboard at (http:\/\/localhost:\d+\/\?token=[0-9a-f]+)\n/;
  const app = await startSpaceTweet(`--dashboard-port ${dashboard} --log-payloads`, { ready: line });
  return { ...app, web: app.url, dashboard, url: line.exec(app.output())[1] };
}

async function shot(page, name) {
  if (screenshots) await page.screenshot({ path: join(screenshots, `dashboard-${name}.png`), fullPage: true });
}

test('the dashboard shows services, crashes, the trace, the graph, restarts, and needs the token', { timeout: 900000 }, async (t) => {
  const app = await startWithDashboard();
  const browser = await launchChromium();
  t.after(async () => {
    await browser.close();
    await app.stop();
  });
  assert.match(app.output(), /'web' serves http:\/\/localhost:\d+\n[^\n]*dashboard at http:\/\/localhost:/);

  // Nobody without the token: not the page, not the stream, not the buttons.
  assert.equal(await httpStatus(app.dashboard, '/'), 401);
  assert.equal(await httpStatus(app.dashboard, '/api/events'), 401);
  assert.equal(await httpStatus(app.dashboard, '/api/services/web/restart', 'POST'), 401);
  assert.equal(await httpStatus(app.dashboard, '/api/services/web/restart', 'POST', { 'x-exo-token': 'f'.repeat(32) }), 401);
  assert.equal(await httpStatus(app.dashboard, `/?token=${'0'.repeat(32)}`), 401);

  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(app.url);
  const state = (role) => page.locator(`#service-rows tr[data-role="${role}"] .badge`);
  for (const role of ['exocom', 'web', 'tweets', 'users']) await state(role).filter({ hasText: 'online' }).waitFor();
  // Instances registered with ExoCom (its status, through /observe), CPU and memory from /proc.
  await page.waitForFunction(() => {
    const row = document.querySelector('#service-rows tr[data-role="web"]');
    return row && row.querySelector('td.instances').textContent === '1' && / MB$/.test(row.children[6].textContent) &&
           / %$/.test(row.children[5].textContent);
  }, null, { timeout: 10000 });
  await shot(page, 'services');

  // kill -9 of a service: the page shows it crashed, then online again, restarted once.
  await page.evaluate(() => {
    window.seenStates = [];
    const row = () => document.querySelector('#service-rows tr[data-role="users"] .badge');
    new MutationObserver(() => { if (row()) window.seenStates.push(row().dataset.state); })
      .observe(document.getElementById('service-rows'), { childList: true, subtree: true });
  });
  const pid = Number(await page.locator('#service-rows tr[data-role="users"] td.pid').textContent());
  assert.ok(pid > 1, 'the pid of users is shown');
  process.kill(pid, 'SIGKILL');
  await page.waitForFunction(() => window.seenStates.includes('crashed'), null, { timeout: 5000 });
  await page.waitForFunction(() => {
    const row = document.querySelector('#service-rows tr[data-role="users"]');
    return row && row.querySelector('.badge').dataset.state === 'online' && row.querySelector('td.restarts').textContent === '1';
  }, null, { timeout: 15000 });
  assert.notEqual(Number(await page.locator('#service-rows tr[data-role="users"] td.pid').textContent()), pid);

  // A tweet posted in SpaceTweet is in the trace within a second: sender, receiver, the name
  // tweets received it as, and the response time of the reply.
  await page.click('nav button[data-tab="messages"]');
  const site = await browser.newPage();
  await signUp(site, app.web, 'Dashboard Dan', 'orbit-123');
  await tweet(site, app.web, 'seen on the dashboard');
  const request = page.locator('#trace-rows tr', { hasText: 'tweets.create' }).filter({ hasText: 'web → tweets' });
  await request.first().waitFor({ timeout: 1000 });
  assert.equal(await request.first().locator('td.as').textContent(), 'mongo.create');
  // With --log-payloads, the trace carries what was sent.
  assert.match(await request.first().locator('pre.payload').textContent(), /seen on the dashboard/);
  // tweets answers in its own words (mongo.created); web receives tweets.created.
  const reply = page.locator('#trace-rows tr', { hasText: 'mongo.created' }).filter({ hasText: 'tweets → web' });
  await reply.first().waitFor({ timeout: 1000 });
  assert.equal(await reply.first().locator('td.as').textContent(), 'tweets.created');
  assert.match(await reply.first().locator('td.response').textContent(), /^[0-9.]+ ms$/);

  // The graph has the edges of SpaceTweet's routes.
  for (const [from, to] of [['web', 'tweets'], ['tweets', 'web'], ['web', 'users'], ['users', 'web'], ['web', 'browser']])
    assert.equal(await page.locator(`#graph .edge[data-from="${from}"][data-to="${to}"]`).count(), 1, `edge ${from} → ${to}`);
  await page.waitForSelector('#graph .edge.active');
  await shot(page, 'messages');

  // Following one activity shows the request and its reply only.
  const activity = await request.first().getAttribute('data-activity');
  await request.first().locator('a').click();
  const followed = await page.locator('#trace-rows tr').evaluateAll((rows) => rows.map((r) => [r.dataset.activity, r.textContent]));
  assert.ok(followed.every(([a]) => a === activity), JSON.stringify(followed));
  assert.ok(followed.some(([, text]) => text.includes('web → tweets')) && followed.some(([, text]) => text.includes('tweets → web')),
            JSON.stringify(followed));

  // The restart button restarts the service: a new process, online again.
  await page.click('nav button[data-tab="services"]');
  const before = Number(await page.locator('#service-rows tr[data-role="tweets"] td.pid').textContent());
  await page.click('#service-rows tr[data-role="tweets"] button.restart');
  await page.waitForFunction((old) => {
    const row = document.querySelector('#service-rows tr[data-role="tweets"]');
    return row && row.querySelector('.badge').dataset.state === 'online' && Number(row.querySelector('td.pid').textContent) !== old;
  }, before, { timeout: 15000 });

  await page.click('nav button[data-tab="logs"]');
  await page.selectOption('#log-role', 'tweets');
  await page.locator('#log-lines li', { hasText: 'online at port' }).first().waitFor();
  await shot(page, 'logs');
  await page.click('nav button[data-tab="contracts"]');
  await page.locator('#contract-cards .card[data-role="web"]').waitFor();
  await shot(page, 'contracts');
});
