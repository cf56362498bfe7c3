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
  assert.deepEqual(reg.payload, { ack: true, errors: true });
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
