// MockExoCom for tests of JavaScript services (Node.js): listens on 127.0.0.1 on a port the OS
// picks, records what services send, sends to them, answers with scripted replies. With
// `{receipts: true}` it gives receipts (docs/protocol.md): `accept(role, n)` sends exocom.accepted,
// and the services' exocom.received messages are recorded like any other.
import { WebSocketServer } from 'ws';

// Node.js 18 (Debian 12's) has Web Crypto only under node:crypto.
const webCrypto = globalThis.crypto ?? (await import('node:crypto')).webcrypto;
const newId = () => webCrypto.randomUUID();

export class MockExoCom {
  constructor({ receipts = false } = {}) {
    this.receipts = receipts;
    this.closes = []; // {role, code} of every connection closed
    this.received = [];
    this.sockets = new Map(); // role → socket
    this.replies = new Map();
    this.waiters = [];
  }

  listen() {
    return new Promise((resolve) => {
      this.server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/services' });
      this.server.on('connection', (socket) => {
        socket.on('message', (data) => this.receive(socket, JSON.parse(String(data))));
        socket.on('close', (code) => {
          this.closes.push({ role: socket.role, code });
          for (const w of [...this.waiters]) w();
        });
      });
      this.server.on('listening', () => {
        this.port = this.server.address().port;
        resolve(this.port);
      });
    });
  }

  receive(socket, m) {
    if (m.name === 'exocom.register-service') {
      this.sockets.set(m.sender, socket);
      socket.role = m.sender;
      const payload = { role: m.sender };
      if (this.receipts && m.payload?.receipts) payload.receipts = true;
      if (m.payload?.ack) socket.send(JSON.stringify({ name: 'exocom.registered', id: newId(), sender: 'exocom', payload }));
    }
    this.received.push(m);
    const scripted = this.replies.get(m.name);
    if (scripted) socket.send(JSON.stringify({ name: scripted.name, id: newId(), activityId: m.activityId, sender: 'exocom', payload: scripted.payload }));
    for (const w of [...this.waiters]) w();
  }

  waitFor(predicate, timeout = 5000, list = () => this.received) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = list().find(predicate);
        if (!found) return false;
        this.waiters = this.waiters.filter((w) => w !== check);
        clearTimeout(timer);
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error('MockExoCom: nothing arrived in time'));
      }, timeout);
      if (!check()) this.waiters.push(check);
    });
  }

  waitForRegistration(role, timeout) {
    return this.waitFor((m) => m.name === 'exocom.register-service' && m.sender === role, timeout);
  }

  // Resolves with {role, code} once a connection of `role` closed.
  waitForClose(role, timeout) {
    return this.waitFor((c) => c.role === role, timeout, () => this.closes);
  }

  // With receipts: tells the service that the first `count` messages of its connection are accepted.
  accept(role, count) {
    this.send(role, 'exocom.accepted', { accepted: count });
  }

  // Cuts the connection of `role` off without a close handshake.
  drop(role) {
    this.sockets.get(role)?.terminate();
    this.sockets.delete(role);
  }

  send(role, name, payload, { activityId = newId(), auth, isSecurity, id = newId() } = {}) {
    const socket = this.sockets.get(role);
    if (!socket) throw new Error(`MockExoCom: no service registered as '${role}'`);
    const m = { name, id, activityId, sender: 'exocom', payload, auth, isSecurity };
    socket.send(JSON.stringify(m));
    return m;
  }

  // Sends and resolves with the first message of the same activity.
  request(role, name, payload, timeout) {
    const sent = this.send(role, name, payload);
    return this.waitFor((m) => m.activityId === sent.activityId && m.name !== name, timeout);
  }

  replyTo(requestName, replyName, payload = {}) {
    this.replies.set(requestName, { name: replyName, payload });
  }

  reset() {
    this.received = [];
    this.replies.clear();
  }

  close() {
    for (const s of this.server?.clients ?? []) s.terminate();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
