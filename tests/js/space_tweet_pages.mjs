// What the browser tests share: ports, Chromium, a PostgreSQL server, the processes of a run, and
// SpaceTweet's forms as a person fills them.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

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

// `make <target> RUN_ARGS=...` (with `env` added to the environment) until its output matches
// `ready` (the last line it prints once everything is online: lines can arrive in more than one
// chunk); `url` is SpaceTweet's.
export async function startMake(target, runArgs, url, { cleanup = () => {}, ready = /'web' serves [^\n]*\n/, env = {} } = {}) {
  const child = spawn('make', ['--no-print-directory', target, `RUN_ARGS=${runArgs}`],
                      { cwd: root, detached: true, env: { ...process.env, NO_COLOR: '1', ...env } });
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

// `make run`, with ports the OS chose and a data folder of its own (and `extra` exo run flags,
// `env` for the services, such as POSTGRES_URL, and `ready`, the line to wait for).
export async function startSpaceTweet(extra = '', { env = {}, ready } = {}) {
  const web = await freePort();
  const gateway = await freePort();
  const data = mkdtempSync(join(tmpdir(), 'spacetweet-'));
  return startMake('run', `--port web=${web} --gateway-port ${gateway} --data-dir ${data} ${extra}`, `http://localhost:${web}`,
                   { cleanup: () => rmSync(data, { recursive: true, force: true }), env, ...(ready ? { ready } : {}) });
}

// A PostgreSQL server of its own (Debian's PostgreSQL 15), on a port the OS chose; run as the
// postgres user when the tests run as root, as initdb requires.
export async function startPostgres() {
  const bin = '/usr/lib/postgresql/15/bin/';
  const dir = mkdtempSync(join(tmpdir(), 'exo-pg-'));
  const asPostgres = (argv) => {
    const command = process.getuid() === 0 ? ['runuser', '-u', 'postgres', '--', ...argv] : argv;
    const r = spawnSync(command[0], command.slice(1), { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${argv[0]} failed: ${r.stdout}${r.stderr}`);
  };
  if (process.getuid() === 0) {
    const id = (flag) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout);
    chmodSync(dir, 0o777);
    chownSync(dir, id('-u'), id('-g'));
  }
  const data = join(dir, 'data');
  asPostgres([`${bin}initdb`, '-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  const port = await freePort();
  asPostgres([`${bin}pg_ctl`, '-D', data, '-l', join(dir, 'log'), '-w', 'start', '-o',
              `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`]);
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres?connect_timeout=5`,
    stop: () => {
      asPostgres([`${bin}pg_ctl`, '-D', data, '-m', 'immediate', '-w', 'stop']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// The processes below `pid` whose command line contains `needle`.
export function descendants(pid, needle) {
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

// Signs up `name` and arrives logged in on the home page.
export async function signUp(page, url, name, password) {
  await page.goto(`${url}/signup`);
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.click('#sign-up button');
  await page.waitForURL(`${url}/`);
}

// Logs in `name` and returns the answer to the form (303 to the home page, or the form again with
// an error); where the page arrives is the caller's to check.
export async function logIn(page, url, name, password) {
  await page.goto(`${url}/login`);
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Password').fill(password);
  const answer = page.waitForResponse((r) => r.url() === `${url}/login` && r.request().method() === 'POST');
  await page.click('#log-in button');
  const response = await answer;
  await page.waitForLoadState();
  return response;
}

// On the home page, logged in: posts `text` and waits for the home page again.
export async function tweet(page, url, text) {
  await page.getByLabel('Your tweet').fill(text);
  await page.click('#new-tweet button');
  await page.waitForURL(`${url}/`);
}
