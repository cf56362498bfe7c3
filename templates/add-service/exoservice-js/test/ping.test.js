import { test } from 'node:test';
import assert from 'node:assert/strict';

import { bootstrap } from 'exosphere-client';
import { MockExoCom } from 'exosphere-client/testing';

import { handlers } from '../handlers.js';

test('{{serviceRole}} answers ping with pong', async () => {
  const exocom = new MockExoCom();
  const port = await exocom.listen();
  const relay = bootstrap(handlers, { env: { ROLE: '{{serviceRole}}', EXOCOM_HOST: '127.0.0.1', EXOCOM_PORT: String(port) } });
  await exocom.waitForRegistration('{{serviceRole}}');
  const reply = await exocom.request('{{serviceRole}}', 'ping', { n: 1 });
  assert.equal(reply.name, 'pong');
  assert.deepEqual(reply.payload, { n: 1 });
  relay.close();
  await exocom.close();
});
