// Exosphere's JavaScript client, for services under Node.js (with the `ws` package) and for pages
// in the browser (through the ExoCom gateway, with the browser's WebSocket). The same calls as the
// C++ SDK: handlers by message name, send, request with a timeout, reconnect with back-off,
// receipts (docs/protocol.md, "Receipts") and a graceful stop.

const WebSocketImpl = globalThis.WebSocket ?? (await import('ws')).default;

// Node.js 18 (Debian 12's) has Web Crypto only under node:crypto.
const webCrypto = globalThis.crypto ?? (await import('node:crypto')).webcrypto;
const newId = () => webCrypto.randomUUID();

export class ExosphereError extends Error {
  constructor(status, message) {
    super(message);
    // 'timeout', 'refused', 'closed', 'invalid_argument', 'config_error', 'not_connected', 'busy'
    this.status = status;
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

// First in, first out, with a cheap shift.
class Queue {
  constructor() {
    this.items = [];
    this.head = 0;
  }

  get length() { return this.items.length - this.head; }

  push(item) { this.items.push(item); }

  peek() { return this.items[this.head]; }

  shift() {
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  take() {
    const all = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return all;
  }
}

// What one connection received, for its receipts: it counts the text frames and tells ExoCom
// (`exocom.received`) how many of them are finished, as a prefix: a frame whose handler still runs,
// or was never started, holds back the count of every later one. Frames nobody handles (replies to
// requests, ExoCom's own messages, copies) are finished when read. It tells every `every` frames,
// or `within` ms after the first finished one it has not told.
export class Intake {
  constructor(tell, { every = 128, within = 5 } = {}) {
    this.tell = tell;
    this.every = every;
    this.within = within;
    this.count = 0; // text frames read
    this.told = 0; // the count in the last exocom.received
    this.open = new Queue(); // frames being handled or never started, oldest first: {n, done}
    this.on = false; // ExoCom gives receipts on this connection
    this.timer = null;
  }

  // A frame finished as it is read.
  read() {
    this.count++;
    this.changed();
  }

  // A frame that is finished once `end(slot)` is called.
  begin() {
    const slot = { n: ++this.count, done: false };
    this.open.push(slot);
    return slot;
  }

  end(slot) {
    if (slot.done) return;
    slot.done = true;
    while (this.open.length && this.open.peek().done) this.open.shift();
    this.changed();
  }

  // How many frames, from the first on, are finished.
  get finished() { return this.open.length ? this.open.peek().n - 1 : this.count; }

  start() {
    this.on = true;
    this.changed();
  }

  changed() {
    if (!this.on) return;
    const due = this.finished - this.told;
    if (due <= 0) return;
    if (due >= this.every) this.flush();
    else if (!this.timer) this.timer = setTimeout(() => this.flush(), this.within);
  }

  // Tells ExoCom now (if there is anything new to tell).
  flush() {
    clearTimeout(this.timer);
    this.timer = null;
    if (!this.on) return;
    const n = this.finished;
    if (n <= this.told) return;
    this.told = n;
    this.tell(n);
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
    this.on = false;
  }
}

// Ids of the last messages handled, to drop a copy that is sent again.
const kRememberedIds = 16384;

// One connection to ExoCom (`/services`, a service) or to its gateway (a browser page). With
// several nodes it moves to the next when its node goes away.
export class Relay {
  constructor({ url, host = 'localhost', port = 80, role, gateway = false, feedback = true, lookup,
                retryMin = 100, retryMax = 5000, maxQueued = 10000, maxQueuedBytes = 16 << 20, stopTimeout = 5000,
                log = (line) => console.error(`exosphere: ${line}`) } = {}) {
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
    this.maxQueued = maxQueued; // messages kept (sent, not yet accepted) plus waiting to be sent
    this.maxQueuedBytes = maxQueuedBytes; // the same in bytes (UTF-16 code units of the JSON)
    this.stopTimeout = stopTimeout; // ms close() waits for handlers and receipts
    this.log = log;
    this.handlers = new Map();
    this.pending = new Map(); // activityId → {resolve, reject, timer}
    this.streams = new Map();
    this.outbox = new Queue(); // messages waiting for a connection
    this.outboxBytes = 0;
    // Receipts: messages written to this connection that ExoCom has not accepted yet, oldest first;
    // sent again, first, on the next connection (to any node).
    this.kept = new Queue();
    this.keptBytes = 0;
    this.acceptedHere = 0;
    this.receipts = false;
    this.intake = new Intake(() => {});
    // Who this client is across its connections, and how many it made: the newest wins.
    this.instance = newId();
    this.epoch = 0;
    this.seen = new Set();
    this.seenOrder = [];
    this.seenNext = 0;
    this.running = 0; // handlers started and not yet finished
    this.done = new Promise((resolve) => { this.resolveDone = resolve; }); // once closed: close()'s result
    this.watchers = new Set(); // called on every change that close() or flush() may wait for
    this.online = false;
    this.stopping = false; // close() began: no new handlers
    this.closed = false; // the connection is closed for good
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
    if (this.closed) return;
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
      // Each connection counts its frames, both ways, from the start.
      this.intake.stop();
      this.intake = new Intake((count) => this.tellReceived(socket, count));
      this.receipts = false;
      this.acceptedHere = 0;
      if (!this.gateway) {
        const payload = this.feedback ? { ack: true, errors: true, receipts: true } : {};
        payload.instance = this.instance;
        payload.epoch = ++this.epoch;
        socket.send(JSON.stringify({ name: 'exocom.register-service', sender: this.role, id: newId(), payload }));
      }
      if (this.gateway || !this.feedback) this.goOnline();
    };
    socket.onmessage = (event) => {
      if (typeof event.data === 'string') this.receive(event.data);
      else this.log('ignored a binary frame from ExoCom');
    };
    socket.onerror = () => {};
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.intake.stop();
      const wasOnline = this.online;
      this.online = false;
      this.notify();
      if (this.closed) return this.socketClosed?.();
      if (wasOnline) {
        this.tellStatus(false);
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

  // Registered: what the last connection did not get accepted goes first, then what waited.
  goOnline() {
    if (this.online || !this.socket) return;
    this.online = true;
    const again = this.kept.take();
    const waiting = this.outbox.take();
    this.keptBytes = 0;
    this.outboxBytes = 0;
    for (const text of again) this.transmit(text);
    for (const text of waiting) this.transmit(text);
    this.notify();
    this.tellStatus(true);
    for (const cb of this.onOnline.splice(0)) cb();
  }

  transmit(text) {
    this.socket.send(text);
    if (this.receipts) {
      this.kept.push(text);
      this.keptBytes += text.length;
    }
  }

  tellReceived(socket, count) {
    if (socket !== this.socket) return;
    socket.send(JSON.stringify({ name: 'exocom.received', sender: this.role, id: newId(), payload: { count } }));
  }

  // ExoCom gives receipts on this connection (an ExoCom without them: nothing is kept).
  registered(m) {
    this.receipts = this.feedback && m.payload?.receipts === true;
    if (this.receipts) this.intake.start();
    this.goOnline();
  }

  accepted(m) {
    const count = m.payload?.accepted;
    if (!Number.isInteger(count)) return this.log('ignored a receipt from ExoCom without a count');
    while (this.acceptedHere < count && this.kept.length) {
      this.keptBytes -= this.kept.shift().length;
      this.acceptedHere++;
    }
    this.notify();
  }

  // Whether `id` is new; remembers the last kRememberedIds.
  firstTime(id) {
    if (this.seen.has(id)) return false;
    if (this.seenOrder.length === kRememberedIds) this.seen.delete(this.seenOrder[this.seenNext]);
    this.seenOrder[this.seenNext] = id;
    this.seenNext = (this.seenNext + 1) % kRememberedIds;
    this.seen.add(id);
    return true;
  }

  receive(text) {
    const intake = this.intake;
    let m;
    try {
      m = JSON.parse(text);
    } catch {
      intake.read();
      return this.log('ignored a message from ExoCom that is not valid JSON');
    }
    if (!m || typeof m !== 'object' || typeof m.name !== 'string' || !m.name) {
      intake.read();
      return this.log('ignored a message from ExoCom without a name');
    }
    const handler = this.handlerFor(m);
    if (handler && m.id && this.seen.has(m.id)) return intake.read(); // a copy of one already handled
    if (!handler) {
      intake.read();
      return this.dispatch(m);
    }
    if (this.stopping) {
      // Never started, never acknowledged: ExoCom gives it to another instance once this one closes.
      intake.begin();
      this.leftUnstarted = (this.leftUnstarted ?? 0) + 1;
      return;
    }
    if (m.id) this.firstTime(m.id);
    this.run(handler, m, intake, intake.begin());
  }

  // The handler a message starts (a stream, a handler, the unknown-message handler); none for
  // replies and ExoCom's own messages, which are finished once read.
  handlerFor(m) {
    if (m.name.startsWith('exocom.') || m.name === '__status') return null;
    if (m.activityId && this.pending.has(m.activityId)) return null;
    if (m.activityId && this.streams.has(m.activityId)) return this.streams.get(m.activityId);
    return this.handlers.get(m.name) ?? this.unknown;
  }

  dispatch(m) {
    if (m.name === 'exocom.registered') return this.registered(m);
    if (m.name === 'exocom.accepted') return this.accepted(m);
    if (m.id && !this.firstTime(m.id)) return;
    if (m.name === '__status') {
      try {
        this.send('__status-ok', undefined, { activityId: m.activityId });
      } catch (e) {
        this.log(`cannot answer ExoCom's health check: ${e.message}`);
      }
      return;
    }
    if (m.name === 'exocom.error') {
      const p = this.pending.get(m.activityId);
      const error = m.payload ?? {};
      if (!p) return this.log(`ExoCom refused a message: ${error.message ?? error.code}`);
      this.pending.delete(m.activityId);
      clearTimeout(p.timer);
      return p.reject(new ExosphereError('refused', `ExoCom refused the request (${error.code}): ${error.message}`));
    }
    const p = this.pending.get(m.activityId);
    if (!p) return undefined; // ExoCom's own, or nobody to hand it to
    this.pending.delete(m.activityId);
    clearTimeout(p.timer);
    return p.resolve(m);
  }

  // A handler is finished when it returns, or, when it returns a promise, once that settles.
  run(handler, m, intake, slot) {
    this.running++;
    const finished = () => {
      this.running--;
      intake.end(slot);
      this.notify();
    };
    const failed = (e) => {
      this.log(`the handler for '${m.name}' failed: ${e?.message ?? e}`);
      finished();
    };
    let result;
    try {
      result = handler(m);
    } catch (e) {
      return failed(e);
    }
    if (result && typeof result.then === 'function') result.then(finished, failed);
    else finished();
  }

  // Sends and returns the message as sent. Until ExoCom accepts it (receipts), or while offline,
  // a message is kept, in order; at most maxQueued messages / maxQueuedBytes: beyond that send
  // throws ExosphereError 'busy' (online: ExoCom has not accepted them yet) or 'not_connected'.
  send(name, payload, { activityId, auth, isSecurity } = {}) {
    if (this.closed) throw new ExosphereError('closed', 'the relay is closed');
    if (!name || typeof name !== 'string') throw new ExosphereError('invalid_argument', 'cannot send a message without a name');
    const m = { name, id: newId(), activityId: activityId || newId() };
    if (!this.gateway) m.sender = this.role;
    if (payload !== undefined) m.payload = payload;
    if (auth !== undefined && auth !== null) m.auth = auth;
    if (isSecurity) m.isSecurity = true;
    const text = JSON.stringify(m);
    const count = this.kept.length + this.outbox.length;
    const bytes = this.keptBytes + this.outboxBytes;
    if (count >= this.maxQueued || (count > 0 && bytes + text.length > this.maxQueuedBytes)) {
      if (this.online) {
        throw new ExosphereError('busy', `ExoCom has not yet accepted ${count} messages (${bytes} bytes) this service sent; ` +
                                         `at most ${this.maxQueued} messages, ${this.maxQueuedBytes} bytes may wait; try again later`);
      }
      throw new ExosphereError('not_connected', `ExoCom at ${this.url} is unreachable and ${count} messages already wait`);
    }
    if (this.online) this.transmit(text);
    else {
      this.outbox.push(text);
      this.outboxBytes += text.length;
    }
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

  // Messages sent and not yet accepted by ExoCom (with receipts), or waiting for a connection.
  get unaccepted() { return this.kept.length + this.outbox.length; }

  notify() {
    for (const watcher of [...this.watchers]) watcher();
    if (this.stopping) this.advanceStop();
  }

  // Resolves true once everything sent so far is accepted (with receipts) or written (without),
  // false after `timeout` ms.
  flush({ timeout = 10000 } = {}) {
    return new Promise((resolve) => {
      let timer;
      const check = () => {
        if (this.unaccepted > 0 && !this.closed) return;
        this.watchers.delete(check);
        clearTimeout(timer);
        resolve(this.unaccepted === 0);
      };
      timer = setTimeout(() => {
        this.watchers.delete(check);
        resolve(false);
      }, timeout);
      this.watchers.add(check);
      check();
    });
  }

  // A graceful stop: no new handlers; the running ones finish and send their replies; ExoCom learns
  // which received messages are finished and accepts what this relay sent; then the connection
  // closes with 1001. Messages received but never started were never acknowledged, so ExoCom
  // gives them to another instance. Everything within `timeout` ms (stopTimeout, 5 s); past it, a
  // log line and the close anyway. Resolves with {clean, running, unaccepted, unstarted}.
  close({ timeout = this.stopTimeout } = {}) {
    if (!this.stopping) {
      this.stopping = true;
      this.stopTimeoutMs = timeout;
      this.stopPhase = 'handlers';
      this.stopTimer = setTimeout(() => {
        this.stopLate = true;
        this.advanceStop();
      }, timeout);
      this.advanceStop();
    }
    return this.done;
  }

  advanceStop() {
    if (this.closed) return;
    if (this.stopPhase === 'handlers') {
      if (this.running > 0 && !this.stopLate) return;
      this.stopPhase = 'receipts';
      this.intake.flush(); // the finished prefix, before the close
    }
    // Nothing to wait for from an ExoCom never reached, nor once the relay never started.
    if (this.started && this.unaccepted > 0 && !this.stopLate) return;
    this.finishStop();
  }

  finishStop() {
    clearTimeout(this.stopTimer);
    clearTimeout(this.retryTimer);
    const result = { clean: !this.stopLate, running: this.running, unaccepted: this.unaccepted, unstarted: this.leftUnstarted ?? 0 };
    if (this.stopLate) {
      this.log(`stopping took longer than ${this.stopTimeoutMs}ms: ${result.running} handlers still running, ` +
               `${result.unaccepted} sent messages not accepted by ExoCom; closing anyway`);
    } else if (result.unaccepted > 0 && !this.started) {
      this.log(`closed with ${result.unaccepted} messages never sent: the relay was never started`);
    }
    if (result.unstarted > 0) this.log(`stopping: left ${result.unstarted} received messages unstarted, for another instance of '${this.role}'`);
    this.closed = true;
    this.intake.flush();
    this.intake.stop();
    if (this.online) {
      this.online = false;
      this.tellStatus(false);
    }
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new ExosphereError('closed', 'the relay was closed'));
    }
    this.pending.clear();
    this.notify();
    const socket = this.socket;
    if (!socket || socket.readyState === 3 /* CLOSED */) return this.resolveDone(result);
    // Resolved once ExoCom answered the close (it then hands on what was not acknowledged).
    const timer = setTimeout(() => this.socketClosed(), 2000);
    this.socketClosed = () => {
      clearTimeout(timer);
      this.socketClosed = null;
      this.resolveDone(result);
    };
    try {
      socket.close(1001, 'service stopping');
    } catch {
      this.socketClosed();
    }
  }
}

// EXOSPHERE_STOP_TIMEOUT: seconds (as for the C++ SDK), default 5; returned in ms.
// EXOSPHERE_STOP_TIMEOUT as the C++ SDK, ExoCom and exo run read it: seconds ("5", "2.5", "5s") or
// milliseconds ("500ms"), more than 0 and at most an hour; 5 s when unset.
export function stopTimeoutFrom(env) {
  const text = env.EXOSPHERE_STOP_TIMEOUT;
  if (text === undefined || text === '') return 5000;
  const match = /^(\d+(?:\.\d+)?|\.\d+)(ms|s)?$/.exec(text);
  const ms = match ? Number(match[1]) * (match[2] === 'ms' ? 1 : 1000) : NaN;
  if (!(ms >= 1 && ms <= 3600e3)) {
    throw new ExosphereError('config_error',
      `EXOSPHERE_STOP_TIMEOUT=${text}: expected a number of seconds, more than 0 and at most 3600 (like 5, 2.5, 5s or 500ms)`);
  }
  return Math.round(ms);
}

// A service in a few lines (Node.js): handlers take (payload, {reply, send, request, message}).
// SIGTERM and SIGINT stop it gracefully (Relay.close) and exit 0, or 1 past EXOSPHERE_STOP_TIMEOUT;
// handlers are installed, so this holds for PID 1 in a container too.
export function bootstrap(handlers, { beforeAll, env = globalThis.process?.env ?? {}, exit = (code) => globalThis.process?.exit(code) } = {}) {
  if (!env.ROLE) throw new ExosphereError('config_error', "ROLE is not set; set it to this service's role (exo run does this for you)");
  const port = Number(env.EXOCOM_PORT ?? 80);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ExosphereError('config_error', `EXOCOM_PORT '${env.EXOCOM_PORT}' is not a port number (1-65535)`);
  }
  const stopTimeout = stopTimeoutFrom(env);
  const relay = new Relay({ host: env.EXOCOM_HOST || 'localhost', port, role: env.ROLE, stopTimeout });  // may list several nodes
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
    if (relay.stopping) return;
    await relay.start();
    console.log(`online at port ${port}`);
  })();
  started.catch((e) => {
    console.error(`exosphere: ${e.message}`);
    exit(1);
  });
  const proc = globalThis.process;
  if (proc?.on) {
    const stop = (signal) => {
      if (relay.stopping) {
        relay.log(`${signal} again: exiting without waiting`);
        return exit(1);
      }
      relay.close().then(({ clean }) => exit(clean ? 0 : 1));
    };
    proc.on('SIGTERM', stop);
    proc.on('SIGINT', stop);
    relay.done.then(() => {
      proc.off('SIGTERM', stop);
      proc.off('SIGINT', stop);
    });
  }
  return relay;
}
