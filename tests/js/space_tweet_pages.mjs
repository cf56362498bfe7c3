// What the browser tests share: ports, Chromium, and SpaceTweet's two forms as a user fills them.
import { createServer } from 'node:net';

import { chromium } from 'playwright-core';

export const freePort = () => new Promise((resolve) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});

// Debian's Chromium, headless, with nothing that would try to reach the network.
export const launchChromium = () => chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

// On the users page: signs up `name`.
export async function signUp(page, name, password) {
  await page.fill('#sign-up input[name=name]', name);
  await page.fill('#sign-up input[name=password]', password);
  await page.click('#sign-up button');
}

// On the home page: posts `text` as `author`.
export async function tweet(page, author, text) {
  await page.selectOption('#new-tweet select', { label: author });
  await page.fill('#new-tweet input[name=content]', text);
  await page.click('#new-tweet button');
}
