import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Relay, bootstrap } from '../index.js';
import { MockExoCom } from '../testing.js';

const quiet = () => {};

test('registers, sends and requests', async () => {
  const exocom = new MockExoCom();
  const port = await exocom.listen();
  const relay = new Relay({ host: '127.0.0.1', port, role: 'web', log: quiet });
  await relay.start();
  const reg = await exocom.waitForRegistration('web');
  assert.deepEqual({ ...reg.payload, instance: undefined }, { ack: true, errors: true, receipts: true, instance: undefined, epoch: 1 });
  assert.equal(reg.payload.instance, relay.instance);
  exocom.replyTo('users.list', 'users.listed', { count: 0 });
  const reply = await relay.request('users.list', {});
  assert.equal(reply.name, 'users.listed');
  assert.deepEqual(reply.payload, { count: 0 });
  relay.close();
  await exocom.close();
});

test('handlers, duplicate handlers, timeouts, status', async () => {
  const exocom = new MockExoCom();
  const port = await exocom.listen();
  const relay = new Relay({ host: '127.0.0.1', port, role: 'svc', log: quiet });
  const got = new Promise((resolve) => relay.on('ping', resolve));
  assert.throws(() => relay.on('ping', () => {}), /already a handler for 'ping'/);
  await relay.start();
  await exocom.waitForRegistration('svc');
  exocom.send('svc', 'ping', { n: 1 });
  assert.deepEqual((await got).payload, { n: 1 });
  await assert.rejects(relay.request('nobody.answers', {}, { timeout: 100 }), (e) => e.status === 'timeout');
  const status = await exocom.request('svc', '__status');
  assert.equal(status.name, '__status-ok');
  relay.close();
  await exocom.close();
});

test('a service keeps activity and auth in replies', async () => {
  const exocom = new MockExoCom();
  const port = await exocom.listen();
  const relay = bootstrap({ ping: (payload, { reply }) => reply('pong', payload) },
                          { env: { ROLE: 'pinger', EXOCOM_HOST: '127.0.0.1', EXOCOM_PORT: String(port) } });
  await exocom.waitForRegistration('pinger');
  exocom.send('pinger', 'ping', { x: 1 }, { activityId: 'a-1', auth: 's-1' });
  const pong = await exocom.waitFor((m) => m.name === 'pong');
  assert.equal(pong.activityId, 'a-1');
  assert.equal(pong.auth, 's-1');
  assert.deepEqual(pong.payload, { x: 1 });
  relay.close();
  await exocom.close();
});

test('bad configuration is a clear error', () => {
  assert.throws(() => bootstrap({}, { env: {} }), /ROLE is not set/);
  assert.throws(() => bootstrap({}, { env: { ROLE: 'x', EXOCOM_PORT: 'eighty' } }), /EXOCOM_PORT 'eighty' is not a port number/);
});

test('several nodes: it moves to the next when its node goes away', async () => {
  const first = new MockExoCom();
  const second = new MockExoCom();
  const [p1, p2] = [await first.listen(), await second.listen()];
  const relay = new Relay({ host: `127.0.0.1:${p1},127.0.0.1:${p2}`, role: 'web', log: quiet, retryMin: 20 });
  await relay.start();
  await first.waitForRegistration('web');
  await first.close();
  await second.waitForRegistration('web');
  relay.send('after.failover', { n: 1 });
  const m = await second.waitFor((x) => x.name === 'after.failover');
  assert.deepEqual(m.payload, { n: 1 });
  relay.close();
  await second.close();
});

test('a name with several addresses counts as several nodes', async () => {
  const relay = new Relay({ host: 'exocom.internal:4100,[::1]:4200', role: 'web', log: quiet,
                            lookup: async () => ['10.0.0.1', 'fd00::2'] });
  assert.deepEqual(await relay.addresses(), [
    'ws://10.0.0.1:4100/services', 'ws://[fd00::2]:4100/services', 'ws://10.0.0.1:4200/services', 'ws://[fd00::2]:4200/services',
  ]);
});

test('bad node lists and a full queue are clear errors', async () => {
  assert.throws(() => new Relay({ host: '127.0.0.1:1,,', role: 'web' }), /has an empty entry/);
  assert.throws(() => new Relay({ host: 'h:port', role: 'web' }), /'h:port' has no valid port/);
  const relay = new Relay({ host: '127.0.0.1:9', role: 'web', log: quiet, maxQueued: 2 });
  relay.send('a');
  relay.send('b');
  assert.throws(() => relay.send('c'), (e) => e.status === 'not_connected' && /2 messages already wait/.test(e.message));
  relay.close();
});

// A container's health check reads the online file: there while registered, gone once closed.
test('the online file follows the registration', async () => {
  const { existsSync, mkdtempSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'exo-online-'));
  const file = join(dir, 'online');
  const exocom = new MockExoCom();
  const port = await exocom.listen();
  const relay = bootstrap({}, { env: { ROLE: 'svc', EXOCOM_HOST: '127.0.0.1', EXOCOM_PORT: String(port), EXOSPHERE_ONLINE_FILE: file } });
  await exocom.waitForRegistration('svc');
  const until = async (want) => {
    for (let i = 0; i < 200 && existsSync(file) !== want; i++) await new Promise((r) => setTimeout(r, 10));
    return existsSync(file);
  };
  assert.equal(await until(true), true, 'registered: the file is there');
  relay.close();
  assert.equal(await until(false), false, 'closed: the file is gone');
  await exocom.close();
  rmSync(dir, { recursive: true, force: true });
});
