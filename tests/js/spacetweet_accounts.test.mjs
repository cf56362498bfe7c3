// SpaceTweet's people, in headless Chromium against `make run`, once with SQLite and once with a
// PostgreSQL server of its own: sign up, log in and out, tweet as yourself only, delete only your
// own tweets, and every refusal a person or an attacker meets: an anonymous tweet, a tweet under
// another name, deleting somebody else's tweet, a form without its CSRF token, a tampered session
// cookie. Sessions survive a restart of the web service. EXO_SCREENSHOTS=<dir> saves the home and
// a person's page (scripts/space-tweet-screenshots).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';

import { descendants, launchChromium, logIn, signUp, startPostgres, startSpaceTweet, tweet } from './space_tweet_pages.mjs';

const kCookie = 'spacetweet_session';

// The CSRF token of the page's forms.
const csrfOf = (page) => page.locator('input[name=csrf]').first().getAttribute('value');
// The token a visitor's forms carry, from the log-in form.
const visitorCsrf = async (page, url) => {
  await page.goto(`${url}/login`);
  return csrfOf(page);
};
// The id in "/users/<id>" of the person logged in on `page`.
const myId = async (page) => (await page.getAttribute('#me', 'href')).split('/').pop();
const alertText = (page) => page.locator('[role=alert]').first().textContent();

for (const database of ['SQLite', 'PostgreSQL']) {
  test(`SpaceTweet's people on ${database}`, { timeout: 900000 }, async (t) => {
    const postgres = database === 'PostgreSQL' ? await startPostgres() : null;
    const app = await startSpaceTweet('--no-dashboard', { env: postgres ? { POSTGRES_URL: postgres.url } : {} });
    const browser = await launchChromium();
    t.after(async () => {
      await browser.close();
      await app.stop();
      postgres?.stop();
    });
    const { url } = app;
    const backend = database.toLowerCase();
    for (const role of ['users', 'tweets'])
      assert.match(app.output(), new RegExp(`${role} +keeping its data in ${backend}`), `${role} keeps its data in ${database}`);

    const picard = await (await browser.newContext()).newPage();
    const riker = await (await browser.newContext()).newPage();
    const visitor = await (await browser.newContext()).newPage();
    let picardId;
    let rikerId;

    await t.test('sign up: logged in at once; a taken name is refused on the page', async () => {
      await signUp(picard, url, 'Jean-Luc Picard', 'make it so');
      assert.equal(await picard.textContent('#me'), 'Jean-Luc Picard');
      picardId = await myId(picard);
      await signUp(riker, url, 'William Riker', 'number one');
      rikerId = await myId(riker);

      await visitor.goto(`${url}/signup`);
      await visitor.getByLabel('Name').fill('William Riker');
      await visitor.getByLabel('Password').fill('imposter!');
      const answer = visitor.waitForResponse((r) => r.url() === `${url}/signup` && r.request().method() === 'POST');
      await visitor.click('#sign-up button');
      assert.equal((await answer).status(), 409);
      assert.equal(await alertText(visitor), 'That name is taken; choose another.');
      assert.equal(await visitor.getByLabel('Name').inputValue(), 'William Riker', 'what was typed is kept');
      assert.equal(await visitor.locator('#me').count(), 0, 'not logged in');
    });

    await t.test('log out and in; a wrong password and an unknown name get the same answer; failures slow down', async () => {
      await picard.goto(`${url}/users/${picardId}`);
      await picard.click('#log-out button');
      await picard.waitForURL(`${url}/`);
      assert.equal(await picard.locator('#me').count(), 0);
      assert.equal(await picard.locator('#new-tweet').count(), 0, 'no tweet form for a visitor');

      await logIn(picard, url, 'Jean-Luc Picard', 'make it sew');
      const wrong = await alertText(picard);
      await logIn(picard, url, 'Locutus', 'resistance is futile');
      assert.equal(await alertText(picard), wrong);
      assert.equal(wrong, 'That name and password do not match.');

      // Two more failures for this name make three; the fourth try, sent right after, waits (a
      // second from the third), even with the right password.
      await logIn(picard, url, 'Jean-Luc Picard', 'make it sew');
      const csrf = await csrfOf(picard);
      assert.equal((await logIn(picard, url, 'Jean-Luc Picard', 'make it sew')).status(), 401);
      const waiting = await picard.context().request.post(`${url}/login`, {
        form: { name: 'Jean-Luc Picard', password: 'make it so', csrf } });
      assert.equal(waiting.status(), 429);
      assert.match(await waiting.text(), /Too many failed log-ins for this name\. Try again in 1 second\./);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await logIn(picard, url, 'Jean-Luc Picard', 'make it so');
      await picard.waitForURL(`${url}/`);
      assert.equal(await picard.textContent('#me'), 'Jean-Luc Picard');

      // After logging in, `next` leads only to a path of this site.
      // (Each log-in starts a new session: the page is loaded again for its token.)
      const after = async (next) => {
        await riker.goto(url);
        const answer = await riker.context().request.post(`${url}/login`, {
          form: { name: 'William Riker', password: 'number one', csrf: await csrfOf(riker), next }, maxRedirects: 0 });
        assert.equal(answer.status(), 303);
        return answer.headers().location;
      };
      assert.equal(await after('/users'), '/users');
      for (const away of ['//evil.example/', '/\\evil.example/', '/\t/evil.example/', 'https://evil.example/', '/x\r\nSet-Cookie: a=b'])
        assert.equal(await after(away), '/', JSON.stringify(away));
    });

    await t.test('only a logged-in person tweets, and always as themself', async () => {
      await visitor.goto(url);
      assert.equal(await visitor.locator('#new-tweet').count(), 0);
      const csrf = await visitorCsrf(visitor, url);
      const anonymous = await visitor.request.post(`${url}/tweets`, { form: { content: 'Who am I?', csrf } });
      assert.equal(anonymous.status(), 401);
      assert.match(await anonymous.text(), /Log in to tweet\./);

      await tweet(picard, url, 'Tea, Earl Grey, hot.');
      // The form with the fields of somebody else added: the tweet is still Picard's.
      await picard.evaluate(({ id }) => {
        const form = document.getElementById('new-tweet');
        for (const [name, value] of [['owner_id', id], ['author', 'William Riker']])
          form.append(Object.assign(document.createElement('input'), { type: 'hidden', name, value }));
      }, { id: rikerId });
      await tweet(picard, url, 'Number One, you have the bridge.');
      const posted = picard.locator('#tweets li', { hasText: 'you have the bridge' });
      assert.equal(await posted.locator('.author').textContent(), 'Jean-Luc Picard');
      assert.equal(await posted.locator('.author').getAttribute('href'), `/users/${picardId}`);
      await riker.goto(`${url}/users/${rikerId}`);
      assert.equal(await riker.locator('#tweets li', { hasText: 'you have the bridge' }).count(), 0);
    });

    await t.test('only the author deletes a tweet', async () => {
      await riker.goto(url);
      const theirs = riker.locator('#tweets li', { hasText: 'Tea, Earl Grey, hot.' });
      assert.equal(await theirs.locator('button').count(), 0, 'no delete button on somebody else\'s tweet');
      const id = (await theirs.getAttribute('id')).replace('tweet-', '');
      // The delete form, made by hand with Riker's own valid token.
      await riker.evaluate(({ id: tweetId, csrf }) => {
        const form = Object.assign(document.createElement('form'), { method: 'post', action: `/tweets/${tweetId}?_method=DELETE` });
        form.append(Object.assign(document.createElement('input'), { type: 'hidden', name: 'csrf', value: csrf }));
        document.body.append(form);
        form.submit();
      }, { id, csrf: await csrfOf(riker) });
      await riker.waitForSelector('h1:text("Not yours")');
      assert.equal(await alertText(riker), 'You can delete only your own tweets.');
      await picard.goto(url);
      assert.equal(await picard.locator(`#tweet-${id}`).count(), 1, 'the tweet is still there');
    });

    await t.test('a form without its CSRF token is refused', async () => {
      await picard.goto(url);
      await picard.locator('#new-tweet input[name=csrf]').evaluate((input) => input.remove());
      await picard.getByLabel('Your tweet').fill('Engage!');
      const answer = picard.waitForResponse((r) => r.url() === `${url}/tweets`);
      await picard.click('#new-tweet button');
      assert.equal((await answer).status(), 403);
      assert.equal(await picard.textContent('h1'), 'Form expired');
      // Another site's page posting with Picard's cookie (what CSRF is) has no token either.
      const forged = await picard.context().request.post(`${url}/tweets`, { form: { content: 'Engage!' } });
      assert.equal(forged.status(), 403);
      await picard.goto(url);
      assert.equal(await picard.locator('#tweets li', { hasText: 'Engage!' }).count(), 0);
    });

    await t.test('a tampered session cookie is a visitor who has not logged in', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await logIn(page, url, 'William Riker', 'number one');
      const [cookie] = (await context.cookies()).filter((c) => c.name === kCookie);
      assert.equal(cookie.httpOnly, true);
      assert.equal(cookie.sameSite, 'Lax');
      // Riker's signed session, with Picard's id written into it.
      const [data, mac] = cookie.value.split('.');
      const [kind, text] = data.split('~');
      const session = JSON.parse(Buffer.from(text, 'base64url').toString());
      assert.equal(session.uid, rikerId);
      session.uid = picardId;
      session.name = 'Jean-Luc Picard';
      const forged = `${kind}~${Buffer.from(JSON.stringify(session)).toString('base64url')}.${mac}`;
      await context.addCookies([{ ...cookie, value: forged }]);
      await page.goto(url);
      assert.equal(await page.locator('#me').count(), 0, 'the forged session is not logged in');
      assert.equal(await page.locator('#new-tweet').count(), 0);
      await context.close();
    });

    await t.test('sessions survive a restart of the web service', async () => {
      const [web] = descendants(app.pid, 'build/space-tweet-web');
      assert.ok(web, 'the web service runs under exo run');
      process.kill(web, 'SIGKILL');
      const deadline = Date.now() + 30000;
      for (;;) {
        const [again] = descendants(app.pid, 'build/space-tweet-web');
        const answer = again && again !== web ? await picard.goto(url).catch(() => null) : null;
        if (answer?.ok()) break;
        assert.ok(Date.now() < deadline, `the web service did not come back:\n${app.output().slice(-3000)}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.equal(await picard.textContent('#me'), 'Jean-Luc Picard', 'still logged in');
      await tweet(picard, url, 'Still in command after a restart.');
      assert.equal(await picard.locator('#tweets li', { hasText: 'Still in command' }).locator('.author').textContent(),
                   'Jean-Luc Picard');
    });

    await t.test('the timeline in pages, newest first', async () => {
      await riker.goto(url);
      const csrf = await csrfOf(riker);
      for (let i = 1; i <= 21; i++) {
        const r = await riker.context().request.post(`${url}/tweets`, { form: { content: `Log entry ${i}`, csrf }, maxRedirects: 0 });
        assert.equal(r.status(), 303);
      }
      await riker.goto(url);
      const contents = () => riker.locator('#tweets li .content').allTextContents();
      const first = await contents();
      assert.equal(first.length, 20);
      assert.deepEqual(first.slice(0, 3), ['Log entry 21', 'Log entry 20', 'Log entry 19']);
      await riker.click('a[rel=next]');
      await riker.waitForURL(`${url}/?page=2`);
      const second = await contents();
      assert.equal(second[0], 'Log entry 1');
      assert.ok(second.includes('Still in command after a restart.') && second.includes('Tea, Earl Grey, hot.'), second.join(' | '));
      assert.equal(await riker.locator('a[rel=prev]').count(), 1);
      assert.equal(await riker.locator('a[rel=next]').count(), 0, 'the last page has no older one');
    });

    await t.test('a person\'s page lists only their tweets, live too, and a phone can read it', async () => {
      const watcher = await picard.context().newPage();
      await watcher.goto(`${url}/users/${rikerId}`);
      await watcher.waitForSelector('body[data-joined="yes"]');
      const authors = await watcher.locator('#tweets li .author').allTextContents();
      assert.ok(authors.length > 0 && authors.every((a) => a === 'William Riker'), authors.join(', '));
      await picard.goto(url);
      await tweet(picard, url, 'Not for Riker\'s page');
      await riker.goto(url);
      await tweet(riker, url, 'Riker to the bridge');
      await watcher.locator('#tweets li', { hasText: 'Riker to the bridge' }).waitFor({ timeout: 10000 });
      // Picard's tweet went out before Riker's: had the page taken it, it would be there by now.
      assert.equal(await watcher.locator('#tweets li', { hasText: 'Not for Riker' }).count(), 0);
      // Picard's own tab got his message; this tab of his did not list the tweet, but got the message too.
      await watcher.locator('#notice', { hasText: 'Your tweet is posted.' }).waitFor({ timeout: 10000 });

      const phone = await browser.newContext({ viewport: { width: 390, height: 800 }, isMobile: true });
      const small = await phone.newPage();
      for (const path of ['/', `/users/${rikerId}`, '/signup', '/login']) {
        await small.goto(`${url}${path}`);
        const width = await small.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(width <= 390, `${path} is ${width} px wide on a 390 px phone`);
      }
      await phone.close();

      if (process.env.EXO_SCREENSHOTS && database === 'SQLite') {
        const desktop = await browser.newContext({ viewport: { width: 1100, height: 760 } });
        const shot = await desktop.newPage();
        await logIn(shot, url, 'Jean-Luc Picard', 'make it so');
        await shot.goto(url);
        await shot.screenshot({ path: join(process.env.EXO_SCREENSHOTS, 'spacetweet-home.png') });
        await shot.goto(`${url}/users/${rikerId}`);
        await shot.screenshot({ path: join(process.env.EXO_SCREENSHOTS, 'spacetweet-user.png') });
        await desktop.close();
      }
    });
  });
}
