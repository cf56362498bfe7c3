// Exosphere's JavaScript client, for services under Node.js (with the `ws` package) and for pages
// in the browser (through the ExoCom gateway, with the browser's WebSocket). The same calls as the
// C++ SDK: handlers by message name, send, request with a timeout, reconnect with back-off.

const WebSocketImpl = globalThis.WebSocket ?? (await import('ws')).default;

// Node.js 18 (Debian 12's) has Web Crypto only under node:crypto.
const webCrypto = globalThis.crypto ?? (await import('node:crypto')).webcrypto;
const newId = () => webCrypto.randomUUID();

export class ExosphereError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status; // 'timeout', 'refused', 'closed', 'invalid_argument', 'config_error', 'not_connected'
  }
}

// "host", "host:port", "[v6]:port", comma-separated: the nodes of an ExoCom cluster.
export function parseNodes(list, defaultPort) {
  const nodes = [];
  for (const raw of String(list).split(',')) {
    const entry = raw.trim();
    if (!entry) throw new ExosphereError('config_error', `the ExoCom address '${list}' has an empty entry; list nodes as host:port,host:port`);
    let host = entry;
    let port = defaultPort;
    const v6 = entry.match(/^\[([^\]]+)\](?::(.*))?$/);
    if (v6) [host, port] = [v6[1], v6[2] ?? defaultPort];
    else if (entry.split(':').length === 2) [host, port] = entry.split(':');
    port = Number(port);
    if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new ExosphereError('config_error', `the ExoCom address entry '${entry}' has no valid port (1-65535)`);
    }
    nodes.push({ host, port });
  }
  return nodes;
}

const hostInUrl = (host) => (host.includes(':') ? `[${host}]` : host);
const isNode = Boolean(globalThis.process?.versions?.node);

// One connection to ExoCom (`/services`, a service) or to its gateway (a browser page). With
// several nodes it moves to the next when its node goes away.
export class Relay {
  constructor({ url, host = 'localhost', port = 80, role, gateway = false, feedback = true, lookup,
                retryMin = 100, retryMax = 5000, maxQueued = 10000, log = (line) => console.error(`exosphere: ${line}`) } = {}) {
    if (!gateway && !role) throw new ExosphereError('config_error', 'a relay needs a role');
    this.nodes = url ? null : parseNodes(host, port);
    this.urls = url ? [url].flat() : null;
    this.url = this.urls?.[0] ?? `ws://${hostInUrl(this.nodes[0].host)}:${this.nodes[0].port}/services`;
    this.lookup = lookup; // (host) → [addresses]; Node's resolver by default
    this.candidates = [];
    this.nextCandidate = 0;
    this.role = role;
    this.gateway = gateway;
    this.feedback = feedback;
    this.retryMin = retryMin;
    this.retryMax = retryMax;
    this.maxQueued = maxQueued;
    this.log = log;
    this.handlers = new Map();
    this.pending = new Map(); // activityId → {resolve, reject, timer}
    this.streams = new Map();
    this.outbox = [];
    this.online = false;
    this.closed = false;
    this.onOnline = [];
    this.onOffline = [];
    this.statusListeners = []; // (online) on every change: registered, connection lost, closed
    this.unknown = (m) => this.log(`received '${m.name}' from '${m.sender}', which this service does not handle; ignored`);
  }

  on(name, handler) {
    if (!name || typeof name !== 'string') throw new ExosphereError('invalid_argument', 'a handler needs a message name');
    if (typeof handler !== 'function') throw new ExosphereError('invalid_argument', `the handler for '${name}' is not a function`);
    if (this.handlers.has(name)) throw new ExosphereError('invalid_argument', `there is already a handler for '${name}'`);
    this.handlers.set(name, handler);
  }

  onUnknown(handler) { this.unknown = handler; }

  // Connects (and keeps reconnecting); resolves once online the first time.
  start() {
    if (!this.started) {
      this.started = true;
      this.firstOnline = new Promise((resolve) => this.onOnline.push(resolve));
      this.retry = this.retryMin;
      this.connect();
    }
    return this.firstOnline;
  }

  // Every address to try, in order: each node's addresses (a name with several counts as several).
  async addresses() {
    if (this.urls) return this.urls;
    const out = [];
    for (const { host, port } of this.nodes) {
      let found = [host];
      if (this.lookup) found = await this.lookup(host);
      else if (isNode && !/^[\d.]+$|:/.test(host)) {
        const dns = await import('node:dns');
        found = (await dns.promises.lookup(host, { all: true })).map((a) => a.address);
      }
      for (const address of found) out.push(`ws://${hostInUrl(address)}:${port}/services`);
    }
    return out;
  }

  async connect() {
    if (this.closed) return;
    if (this.nextCandidate >= this.candidates.length) {
      try {
        this.candidates = await this.addresses();
      } catch (e) {
        this.candidates = [];
        return this.connectFailed(`cannot resolve: ${e.message}`, true);
      }
      this.nextCandidate = 0;
      if (this.candidates.length === 0) return this.connectFailed('no address', true);
    }
    this.url = this.candidates[this.nextCandidate++];
    let socket;
    try {
      socket = new WebSocketImpl(this.url);
    } catch (e) {
      return this.connectFailed(e.message);
    }
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      if (this.trouble) this.log(`connected to ExoCom at ${this.url}`);
      this.trouble = false;
      this.retry = this.retryMin;
      if (!this.gateway) {
        const payload = this.feedback ? { ack: true, errors: true } : {};
        socket.send(JSON.stringify({ name: 'exocom.register-service', sender: this.role, id: newId(), payload }));
      }
      if (this.gateway || !this.feedback) this.goOnline();
    };
    socket.onmessage = (event) => this.receive(typeof event.data === 'string' ? event.data : String(event.data));
    socket.onerror = () => {};
    socket.onclose = () => {
      const wasOnline = this.online;
      this.online = false;
      if (wasOnline) this.tellStatus(false);
      if (this.closed) return;
      if (wasOnline) {
        this.log(`lost the connection to ExoCom at ${this.url}; reconnecting`);
        for (const cb of this.onOffline) cb();
      }
      if (opened) this.retry = this.retryMin;
      this.connectFailed('connection closed');
    };
  }

  // The next address of the round at once; after a whole round, a back-off.
  connectFailed(why, roundOver = false) {
    if (this.closed) return;
    if (!roundOver && this.nextCandidate < this.candidates.length) {
      this.retryTimer = setTimeout(() => this.connect(), 0);
      return;
    }
    const where = this.urls ? this.url : this.nodes.map((n) => `${hostInUrl(n.host)}:${n.port}`).join(',');
    const delay = this.retry;
    if (!this.trouble || delay >= this.retryMax) this.log(`cannot reach ExoCom at ${where} (${why}); retrying in ${delay}ms`);
    this.trouble = true;
    this.retry = Math.min(this.retry * 2, this.retryMax);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  // Calls `listener(online)` whenever the relay goes online or offline.
  onStatus(listener) { this.statusListeners.push(listener); }

  tellStatus(online) {
    for (const listener of this.statusListeners) listener(online);
  }

  goOnline() {
    if (this.online) return;
    this.online = true;
    this.tellStatus(true);
    const queued = this.outbox;
    this.outbox = [];
    for (const text of queued) this.socket.send(text);
    for (const cb of this.onOnline.splice(0)) cb();
  }

  receive(text) {
    let m;
    try {
      m = JSON.parse(text);
    } catch {
      return this.log('ignored a message from ExoCom that is not valid JSON');
    }
    if (!m || typeof m !== 'object' || typeof m.name !== 'string' || !m.name) {
      return this.log('ignored a message from ExoCom without a name');
    }
    if (m.name === 'exocom.registered') return this.goOnline();
    if (m.name === '__status') return this.send('__status-ok', undefined, { activityId: m.activityId });
    if (m.name === 'exocom.error') {
      const p = this.pending.get(m.activityId);
      const error = m.payload ?? {};
      if (!p) return this.log(`ExoCom refused a message: ${error.message ?? error.code}`);
      this.pending.delete(m.activityId);
      clearTimeout(p.timer);
      return p.reject(new ExosphereError('refused', `ExoCom refused the request (${error.code}): ${error.message}`));
    }
    if (m.activityId && this.pending.has(m.activityId)) {
      const p = this.pending.get(m.activityId);
      this.pending.delete(m.activityId);
      clearTimeout(p.timer);
      return p.resolve(m);
    }
    if (m.activityId && this.streams.has(m.activityId)) return this.run(this.streams.get(m.activityId), m);
    const handler = this.handlers.get(m.name);
    if (!handler) return this.unknown(m);
    this.run(handler, m);
  }

  run(handler, m) {
    try {
      const result = handler(m);
      if (result && typeof result.catch === 'function') result.catch((e) => this.log(`the handler for '${m.name}' failed: ${e.message}`));
    } catch (e) {
      this.log(`the handler for '${m.name}' failed: ${e.message}`);
    }
  }

  // Sends and returns the message as sent. While offline, messages wait (bounded) in order.
  send(name, payload, { activityId, auth, isSecurity } = {}) {
    if (this.closed) throw new ExosphereError('closed', 'the relay is closed');
    if (!name || typeof name !== 'string') throw new ExosphereError('invalid_argument', 'cannot send a message without a name');
    const m = { name, id: newId(), activityId: activityId || newId() };
    if (!this.gateway) m.sender = this.role;
    if (payload !== undefined) m.payload = payload;
    if (auth !== undefined && auth !== null) m.auth = auth;
    if (isSecurity) m.isSecurity = true;
    const text = JSON.stringify(m);
    if (this.online) this.socket.send(text);
    else if (this.outbox.length >= this.maxQueued) throw new ExosphereError('not_connected', `ExoCom at ${this.url} is unreachable and ${this.outbox.length} messages already wait`);
    else this.outbox.push(text);
    return m;
  }

  // Resolves with the first message of the same activity; rejects on timeout or refusal.
  request(name, payload, { timeout = 10000, ...options } = {}) {
    const activityId = options.activityId || newId();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(activityId);
        reject(new ExosphereError('timeout', `no reply to '${name}' within ${timeout}ms`));
      }, timeout);
      this.pending.set(activityId, { resolve, reject, timer });
      try {
        this.send(name, payload, { ...options, activityId });
      } catch (e) {
        clearTimeout(timer);
        this.pending.delete(activityId);
        reject(e);
      }
    });
  }

  // Every later message of one activity (streaming replies); returns a function that stops it.
  listen(activityId, handler) {
    this.streams.set(activityId, handler);
    return () => this.streams.delete(activityId);
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    if (this.online) {
      this.online = false;
      this.tellStatus(false);
    }
    clearTimeout(this.retryTimer);
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new ExosphereError('closed', 'the relay was closed'));
    }
    this.pending.clear();
    if (this.socket) this.socket.close(1001, 'service stopping');
  }
}

// A service in a few lines (Node.js): handlers take (payload, {reply, send, request, message}).
export function bootstrap(handlers, { beforeAll, env = globalThis.process?.env ?? {} } = {}) {
  if (!env.ROLE) throw new ExosphereError('config_error', "ROLE is not set; set it to this service's role (exo run does this for you)");
  const port = Number(env.EXOCOM_PORT ?? 80);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ExosphereError('config_error', `EXOCOM_PORT '${env.EXOCOM_PORT}' is not a port number (1-65535)`);
  }
  const relay = new Relay({ host: env.EXOCOM_HOST || 'localhost', port, role: env.ROLE });  // may list several nodes
  // A container's health check tests this file: it exists while the service is registered.
  if (env.EXOSPHERE_ONLINE_FILE) {
    const file = env.EXOSPHERE_ONLINE_FILE;
    const fs = import('node:fs');
    relay.onStatus((online) => fs.then(({ writeFileSync, rmSync }) => {
      try {
        if (online) writeFileSync(file, '');
        else rmSync(file, { force: true });
      } catch (e) {
        relay.log(`cannot ${online ? 'create' : 'remove'} the online file ${file}: ${e.message}`);
      }
    }));
  }
  for (const [name, handler] of Object.entries(handlers)) {
    relay.on(name, (m) => handler(m.payload, {
      message: m,
      reply: (replyName, payload = {}) => relay.send(replyName, payload, { activityId: m.activityId, auth: m.auth, isSecurity: m.isSecurity }),
      send: (sendName, payload) => relay.send(sendName, payload, { auth: m.auth }),
      request: (requestName, payload, options = {}) => relay.request(requestName, payload, { ...options, auth: m.auth }),
    }));
  }
  const started = (async () => {
    if (beforeAll) await beforeAll();
    await relay.start();
    console.log(`online at port ${port}`);
  })();
  started.catch((e) => {
    console.error(`exosphere: ${e.message}`);
    globalThis.process?.exit(1);
  });
  globalThis.process?.once?.('SIGTERM', () => relay.close());
  globalThis.process?.once?.('SIGINT', () => relay.close());
  return relay;
}
