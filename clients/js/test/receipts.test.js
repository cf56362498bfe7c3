// Receipts (docs/protocol.md, "Receipts") and the graceful stop, against MockExoCom.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Intake, Relay } from '../index.js';
import { MockExoCom } from '../testing.js';

const quiet = () => {};

// A promise and the function that settles it.
const gate = () => {
  let open;
  const promise = new Promise((resolve) => { open = resolve; });
  return { promise, open };
};

async function setup(t, options = {}) {
  const exocom = new MockExoCom({ receipts: true });
  const port = await exocom.listen();
  const relay = new Relay({ host: '127.0.0.1', port, role: 'svc', log: quiet, retryMin: 20, ...options });
  t.after(async () => {
    await relay.close({ timeout: 100 });
    await exocom.close();
  });
  return { exocom, relay };
}

const receivedCounts = (exocom) => exocom.received.filter((m) => m.name === 'exocom.received').map((m) => m.payload.count);

test('the ack is a prefix: only frames whose handlers finished, up to the first that has not', () => {
  const told = [];
  const intake = new Intake((n) => told.push(n), { every: 2, within: 1e9 });
  intake.start();
  intake.read(); // 1: a control frame, finished when read
  const slow = intake.begin(); // 2
  const fast = intake.begin(); // 3
  intake.read(); // 4
  intake.end(fast);
  assert.equal(intake.finished, 1, 'frame 2 still runs: nothing after it counts');
  intake.end(slow);
  assert.equal(intake.finished, 4);
  assert.deepEqual(told, [4], 'told once, with the whole prefix');
  const never = intake.begin(); // 5: never started (a stop)
  intake.read(); // 6
  intake.flush();
  assert.equal(intake.finished, 4);
  assert.deepEqual(told, [4], 'nothing new to tell');
  intake.end(never);
  intake.flush();
  assert.deepEqual(told, [4, 6]);
});

test('an async handler is acknowledged once its promise settles, in order', async (t) => {
  const { exocom, relay } = await setup(t);
  const first = gate();
  const ran = [];
  relay.on('slow', async () => { ran.push('slow'); await first.promise; });
  relay.on('fast', () => { ran.push('fast'); });
  await relay.start();
  // Frame 1 is exocom.registered; 2 is slow, 3 is fast.
  exocom.send('svc', 'slow', {});
  exocom.send('svc', 'fast', {});
  await exocom.waitFor((m) => m.name === 'exocom.received' && m.payload.count === 1);
  await new Promise((resolve) => { const poll = () => (ran.length === 2 ? resolve() : setImmediate(poll)); poll(); });
  await relay.intake.flush();
  assert.deepEqual(receivedCounts(exocom), [1], 'fast finished, but slow before it has not');
  first.open();
  await exocom.waitFor((m) => m.name === 'exocom.received' && m.payload.count === 3);
});

test('a copy of a message already handled is dropped', async (t) => {
  const { exocom, relay } = await setup(t);
  let calls = 0;
  relay.on('job', () => { calls++; });
  await relay.start();
  exocom.send('svc', 'job', {}, { id: 'same' });
  exocom.send('svc', 'job', {}, { id: 'same' });
  exocom.send('svc', 'job', {}, { id: 'other' });
  await exocom.waitFor((m) => m.name === 'exocom.received' && m.payload.count === 4);
  assert.equal(calls, 2);
});

test('on a new connection it sends what was not accepted first, then the rest', async (t) => {
  const { exocom, relay } = await setup(t);
  await relay.start();
  relay.send('m1');
  relay.send('m2');
  await exocom.waitFor((m) => m.name === 'm2');
  exocom.accept('svc', 1);
  await new Promise((resolve) => { const poll = () => (relay.unaccepted === 1 ? resolve() : setTimeout(poll, 1)); poll(); });
  exocom.reset();
  exocom.drop('svc');
  await new Promise((resolve) => relay.onOffline.push(resolve));
  relay.send('m3'); // offline: waits
  const reg = await exocom.waitForRegistration('svc');
  assert.equal(reg.payload.epoch, 2);
  assert.equal(reg.payload.instance, relay.instance);
  await exocom.waitFor((m) => m.name === 'm3');
  assert.deepEqual(exocom.received.filter((m) => !m.name.startsWith('exocom.')).map((m) => m.name), ['m2', 'm3']);
  exocom.accept('svc', 2);
  assert.equal(await relay.flush({ timeout: 2000 }), true);
});

test('send throws busy when too much is not accepted, never drops', async (t) => {
  const { exocom, relay } = await setup(t, { maxQueued: 2 });
  await relay.start();
  relay.send('a');
  relay.send('b');
  assert.throws(() => relay.send('c'), (e) => e.status === 'busy' && /not yet accepted 2 messages/.test(e.message));
  exocom.accept('svc', 1);
  await relay.flush({ timeout: 50 });
  await new Promise((resolve) => { const poll = () => (relay.unaccepted === 1 ? resolve() : setTimeout(poll, 1)); poll(); });
  relay.send('c');
});

test('a graceful stop: running handlers finish and reply, the rest is left unacknowledged', async (t) => {
  const { exocom, relay } = await setup(t);
  const hold = gate();
  const started = gate();
  relay.on('job', async (m) => {
    started.open();
    await hold.promise;
    relay.send('job.done', m.payload, { activityId: m.activityId });
  });
  await relay.start();
  exocom.send('svc', 'job', { n: 1 }); // frame 2
  await started.promise;
  const stopped = relay.close({ timeout: 5000 });
  exocom.send('svc', 'job', { n: 2 }); // frame 3: arrives while stopping, never started
  await exocom.waitFor((m) => m.name === 'exocom.received' && m.payload.count >= 1);
  hold.open();
  const done = await exocom.waitFor((m) => m.name === 'job.done');
  assert.deepEqual(done.payload, { n: 1 });
  await exocom.waitFor((m) => m.name === 'exocom.received' && m.payload.count === 2);
  assert.equal(exocom.closes.length, 0, 'it waits for the receipt of its reply');
  exocom.accept('svc', 1);
  const result = await stopped;
  assert.deepEqual(result, { clean: true, running: 0, unaccepted: 0, unstarted: 1 });
  assert.equal((await exocom.waitForClose('svc')).code, 1001);
  assert.ok(Math.max(...receivedCounts(exocom)) === 2, 'the job never started is not acknowledged');
  assert.throws(() => relay.send('late'), (e) => e.status === 'closed');
});

test('a stop past its timeout says how many handlers still run', async (t) => {
  const lines = [];
  const { exocom, relay } = await setup(t, { log: (line) => lines.push(line) });
  relay.on('stuck', () => new Promise(() => {}));
  await relay.start();
  exocom.send('svc', 'stuck', {});
  await new Promise((resolve) => { const poll = () => (relay.running === 1 ? resolve() : setTimeout(poll, 1)); poll(); });
  const result = await relay.close({ timeout: 50 });
  assert.equal(result.clean, false);
  assert.equal(result.running, 1);
  assert.equal(lines.filter((l) => /stopping took longer than 50ms: 1 handlers still running/.test(l)).length, 1);
  assert.equal((await exocom.waitForClose('svc')).code, 1001);
});
