// The stop contract against the real bus: two instances of a worker, 1,000 requests in a stream,
// one worker stopped with SIGTERM in the middle. Every request gets exactly one reply, and the
// stopped worker exits 0 within EXOSPHERE_STOP_TIMEOUT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Relay } from '../index.js';

const here = dirname(fileURLToPath(import.meta.url));
const exocomBinary = process.env.EXOCOM_BINARY || join(here, '../../../build/dev/src/exocom/exocom');
const routes = JSON.stringify({
  worker: { receives: ['job'], sends: ['job.done'] },
  client: { receives: ['job.done'], sends: ['job'] },
});
const requests = 1000;
const inFlight = 64; // requests sent and not yet answered, at most
const stopAfter = 300; // answers before the SIGTERM
const stopTimeoutSeconds = 5;

// A child process with its output collected, and promises for a line and for its exit.
function start(command, args, env) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.output = '';
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const listeners = [];
  const take = (data) => {
    child.output += data;
    for (const l of [...listeners]) l();
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  child.line = (pattern, what) => new Promise((resolve, reject) => {
    const check = () => {
      const m = child.output.match(pattern);
      if (m) {
        listeners.splice(listeners.indexOf(check), 1);
        resolve(m);
      }
    };
    listeners.push(check);
    child.exited.then(() => reject(new Error(`${what} exited before saying ${pattern}:\n${child.output}`)));
    check();
  });
  return child;
}

test('SIGTERM in the middle of a stream: every request answered once, exit 0', { timeout: 60000 }, async (t) => {
  if (!existsSync(exocomBinary)) return t.skip(`no exocom at ${exocomBinary} (build it first)`);
  const children = [];
  t.after(() => { for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL'); });
  const exocom = start(exocomBinary, ['--host', '127.0.0.1', '--port', '0'], { SERVICE_DATA: routes });
  children.push(exocom);
  const port = Number((await exocom.line(/online at port (\d+)/, 'exocom'))[1]);

  const workerEnv = { ROLE: 'worker', EXOCOM_HOST: '127.0.0.1', EXOCOM_PORT: String(port), EXOSPHERE_STOP_TIMEOUT: String(stopTimeoutSeconds) };
  const workers = [0, 1].map(() => start(process.execPath, [join(here, '../fixtures/worker.js')], workerEnv));
  children.push(...workers);
  await Promise.all(workers.map((w) => w.line(/online at port/, 'a worker')));

  const client = new Relay({ host: '127.0.0.1', port, role: 'client', log: () => {} });
  t.after(() => client.close({ timeout: 100 }));
  const replies = new Array(requests).fill(0);
  let sent = 0;
  let answered = 0; // distinct requests answered
  let stopped = null;
  let allAnswered;
  const everyAnswer = new Promise((resolve) => { allAnswered = resolve; });
  const pump = () => {
    while (sent < requests && sent - answered < inFlight) client.send('job', { n: sent++ });
  };
  client.on('job.done', (m) => {
    if (replies[m.payload.n]++ === 0) answered++;
    if (answered === stopAfter && !stopped) {
      const since = Date.now();
      workers[0].kill('SIGTERM');
      stopped = workers[0].exited.then((exit) => ({ ...exit, took: Date.now() - since }));
    }
    if (answered === requests) allAnswered();
    pump();
  });
  await client.start();
  pump();

  const missing = () => replies.filter((n) => n === 0).length;
  const bound = setTimeout(() => allAnswered(), 30000); // a bound for a failure, not a wait
  await everyAnswer;
  clearTimeout(bound);
  assert.equal(missing(), 0, `${missing()} requests got no reply`);
  const exit = await stopped;
  assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, `the stopped worker:\n${workers[0].output}`);
  assert.ok(exit.took < stopTimeoutSeconds * 1000, `the stopped worker took ${exit.took} ms`);

  // Every job accepted means every delivery of it was handled and acknowledged; the other worker's
  // graceful stop then waits until each of its replies reached the client's handler.
  assert.equal(await client.flush({ timeout: 10000 }), true, 'ExoCom accepted every job');
  workers[1].kill('SIGTERM');
  assert.equal((await workers[1].exited).code, 0, `the other worker:\n${workers[1].output}`);

  const duplicated = replies.filter((n) => n > 1).length;
  const counts = { answered, lost: missing(), duplicated };
  assert.deepEqual(counts, { answered: requests, lost: 0, duplicated: 0 });
  const handled = workers.map((w) => Number(w.output.match(/worker answered (\d+)/)?.[1]));
  assert.equal(handled[0] + handled[1], requests, `each request handled once: ${handled}`);
  assert.ok(handled[0] >= stopAfter / 4 && handled[0] < requests, `the stopped worker answered ${handled[0]}`);
  const left = workers[0].output.match(/left (\d+) received messages unstarted/)?.[1] ?? 0;
  t.diagnostic(`answered ${answered}, lost 0, duplicated 0; worker answers ${handled.join(" + ")}; stopped in ${exit.took} ms, leaving ${left} unstarted to the other`);
  exocom.kill('SIGTERM');
  await exocom.exited;
});
