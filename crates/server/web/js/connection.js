// The link to the server: one WebSocket to `/irc` speaking IRC per the IRCv3
// WebSocket spec (one line per frame, no line endings), capability
// negotiation, login (SASL PLAIN) or account registration (REGISTER),
// keepalive, batches, labelled requests, and reconnecting with backoff after
// any disconnect. It knows IRC lines and nothing about windows or the page:
// everything else hears from it through events.
//
// Events (all CustomEvent, data in `detail`):
//   statechange      the connection's state changed (see `state`)
//   registered       001 arrived: `{ nick }`
//   message          a line outside any batch, or from a finished
//                    labeled-response batch
//   batch            a finished batch (other than labeled-response), with
//                    its items: `{ type, params, tags, source, items }`
//   loginfailed      SASL or REGISTER failed: `{ reason }`; the connection
//                    stops, since retrying the same password would fail again
//   accountregistered REGISTER succeeded: `{ account }`

import { Backoff } from './backoff.js';
import { formatLine, parseCapList, parseLine, parseSource, foldCase } from './irc.js';

/** Capabilities the client uses when the server offers them. */
const WANTED_CAPS = [
  'account-notify',
  'away-notify',
  'batch',
  'cap-notify',
  'draft/chathistory',
  'draft/message-redaction',
  'draft/multiline',
  'draft/read-marker',
  'echo-message',
  'extended-join',
  'labeled-response',
  'message-tags',
  'multi-prefix',
  'server-time',
  'standard-replies',
];

const SUBPROTOCOL_TEXT = 'text.ircv3.net';
const SUBPROTOCOL_BINARY = 'binary.ircv3.net';

/** How long the link may be silent before we PING, and then give up. */
const KEEPALIVE_IDLE_MS = 60_000;
const KEEPALIVE_DEAD_MS = 90_000;
/** A labelled request with no answer by then is treated as lost. */
const REQUEST_TIMEOUT_MS = 30_000;
/** SASL messages go in base64 chunks of this size (IRCv3 sasl-3.1). */
const SASL_CHUNK = 400;

/** The connection's life: `idle` before the first start, `connecting`
 *  (socket opening), `registering` (CAP/SASL/NICK), `connected`, `waiting`
 *  (disconnected, a retry is scheduled at `retryAt`), `stopped` (by the user
 *  or a failed login: no retry). */
export class Connection extends EventTarget {
  constructor(url, { realname = 'palaver web client' } = {}) {
    super();
    /** The WebSocket URL (`ws(s)://host/irc`). */
    this.url = url;
    this.realname = realname;
    /** `{ name, retryAt, reason }`; read by the view, changed only by `setState`. */
    this.state = { name: 'idle', retryAt: 0, reason: '' };
    /** What the user asked for: `{ nick, mode: 'guest'|'login'|'register', password, email }`. */
    this.login = null;
    /** Our nick as the server knows it now. */
    this.nick = '';
    /** The account we are logged in to, or '' when not logged in. */
    this.account = '';
    /** Capabilities the server offers (name → value) and those enabled for this connection. */
    this.offeredCaps = new Map();
    this.enabledCaps = new Map();
    /** RPL_ISUPPORT tokens (name → value, '' when the token has none). */
    this.isupport = new Map();

    this.socket = null;
    this.backoff = new Backoff({ firstMs: 1000, maxMs: 30_000 });
    this.retryTimer = 0;
    this.keepaliveTimer = 0;
    this.lastHeard = 0;
    this.nextLabel = 1;
    /** label → { resolve, reject, timer } for requests awaiting their reply. */
    this.pendingRequests = new Map();
    /** Open batches by reference; see `handleBatchLine`. */
    this.openBatches = new Map();
    /** Registration bookkeeping for the current socket. */
    this.registration = null;

    this.onOnline = () => {
      if (this.state.name === 'waiting') this.reconnectNow();
    };
    window.addEventListener('online', this.onOnline);
  }

  /** Connects with these login details; any earlier connection is dropped. */
  start(login) {
    this.login = { ...login };
    this.backoff.reset();
    if (this.registered) this.send({ command: 'QUIT', params: ['changing login'] });
    this.closeSocket();
    this.open();
  }

  /** Disconnects for good (until `start`), saying goodbye if connected. */
  stop(reason = 'leaving') {
    clearTimeout(this.retryTimer);
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.send({ command: 'QUIT', params: [reason] });
    this.closeSocket();
    this.setState('stopped', { reason });
  }

  reconnectNow() {
    if (!this.login) return;
    clearTimeout(this.retryTimer);
    this.closeSocket();
    this.open();
  }

  get registered() {
    return this.state.name === 'connected';
  }

  has(cap) {
    return this.enabledCaps.has(cap);
  }

  capValue(cap) {
    return this.enabledCaps.get(cap) ?? '';
  }

  isMe(nick) {
    return foldCase(nick) === foldCase(this.nick);
  }

  /** Sends a line (a string or `{ tags, command, params }`). False when there is no open socket. */
  send(message) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    const line = typeof message === 'string' ? message : formatLine(message);
    if (this.socket.protocol === SUBPROTOCOL_BINARY) this.socket.send(new TextEncoder().encode(line));
    else this.socket.send(line);
    return true;
  }

  /**
   * Sends a line with a `label` tag and resolves with the items of its reply:
   * the one labelled line, the contents of its labeled-response batch, or []
   * for an ACK. Without labeled-response it resolves at once with [] (the
   * server still handles lines in order). Rejects when the connection drops.
   */
  request(message) {
    if (!this.has('labeled-response')) {
      const sent = this.send(message);
      return sent ? Promise.resolve([]) : Promise.reject(new Error('not connected'));
    }
    const label = `w${this.nextLabel++}`;
    const tagged = { ...message, tags: { ...(message.tags || {}), label } };
    return new Promise((resolve, reject) => {
      if (!this.send(tagged)) {
        reject(new Error('not connected'));
        return;
      }
      const timer = setTimeout(() => {
        this.pendingRequests.delete(label);
        reject(new Error('no reply from the server'));
      }, REQUEST_TIMEOUT_MS);
      this.pendingRequests.set(label, { resolve, reject, timer });
    });
  }

  /** The label a `request` will use next, so that an echo can be matched before it arrives. */
  peekLabel() {
    return `w${this.nextLabel}`;
  }

  // ---- socket life ----

  open() {
    clearTimeout(this.retryTimer);
    this.setState('connecting');
    let socket;
    try {
      socket = new WebSocket(this.url, [SUBPROTOCOL_TEXT, SUBPROTOCOL_BINARY]);
    } catch (error) {
      this.scheduleRetry(String(error.message || error));
      return;
    }
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    this.registration = { capsListed: new Map(), capEnded: false, triedNicks: 0, errorText: '' };
    socket.addEventListener('open', () => this.onOpen(socket));
    socket.addEventListener('message', (event) => this.onFrame(socket, event));
    socket.addEventListener('close', (event) => this.onClose(socket, event));
    // A failed socket always fires close afterwards; nothing to do on error itself.
  }

  onOpen(socket) {
    if (socket !== this.socket) return;
    this.setState('registering');
    this.lastHeard = Date.now();
    this.startKeepalive();
    this.send({ command: 'CAP', params: ['LS', '302'] });
    this.send({ command: 'NICK', params: [this.login.nick] });
    this.send({ command: 'USER', params: ['web', '0', '*', this.realname] });
  }

  onFrame(socket, event) {
    if (socket !== this.socket) return;
    this.lastHeard = Date.now();
    const text = typeof event.data === 'string' ? event.data : new TextDecoder().decode(event.data);
    // One line per frame per the spec; tolerate a server that sends several.
    for (const line of text.split(/\r?\n/)) {
      if (!line) continue;
      const message = parseLine(line);
      if (message) this.handleLine(message);
    }
  }

  onClose(socket, event) {
    if (socket !== this.socket) return;
    this.socket = null;
    this.stopKeepalive();
    this.failPendingRequests();
    this.openBatches.clear();
    const reason = this.registration?.errorText || event.reason || (event.code === 1000 ? 'closed' : 'connection lost');
    if (this.state.name === 'stopped') return;
    this.scheduleRetry(reason);
  }

  closeSocket() {
    const socket = this.socket;
    this.socket = null;
    this.stopKeepalive();
    this.failPendingRequests();
    this.openBatches.clear();
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000);
  }

  scheduleRetry(reason) {
    const delay = this.backoff.next();
    this.setState('waiting', { retryAt: Date.now() + delay, reason });
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  startKeepalive() {
    this.stopKeepalive();
    this.keepaliveTimer = setInterval(() => {
      const silent = Date.now() - this.lastHeard;
      if (silent > KEEPALIVE_DEAD_MS) {
        // The browser may take minutes to notice a dead TCP connection.
        const socket = this.socket;
        this.socket = null;
        socket?.close();
        this.stopKeepalive();
        this.failPendingRequests();
        this.scheduleRetry('no reply from the server');
      } else if (silent > KEEPALIVE_IDLE_MS) {
        this.send({ command: 'PING', params: ['keepalive'] });
      }
    }, 15_000);
  }

  stopKeepalive() {
    clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = 0;
  }

  failPendingRequests() {
    for (const { reject, timer } of this.pendingRequests.values()) {
      clearTimeout(timer);
      reject(new Error('disconnected'));
    }
    this.pendingRequests.clear();
  }

  setState(name, extra = {}) {
    this.state = { name, retryAt: 0, reason: '', ...extra };
    this.dispatchEvent(new CustomEvent('statechange', { detail: this.state }));
  }

  // ---- lines ----

  handleLine(message) {
    if (message.command === 'BATCH') {
      this.handleBatchLine(message);
      return;
    }
    const ref = message.tags.batch;
    if (ref && this.openBatches.has(ref)) {
      this.openBatches.get(ref).items.push(message);
      return;
    }
    this.deliver(message);
  }

  /** Collects a batch's lines until it closes; a nested batch becomes one
   *  item of its parent, so a chathistory batch inside a labeled-response
   *  batch arrives whole. */
  handleBatchLine(message) {
    const [refWithSign = '', type = '', ...params] = message.params;
    const ref = refWithSign.slice(1);
    if (refWithSign.startsWith('+')) {
      this.openBatches.set(ref, {
        kind: 'batch',
        ref,
        type,
        params,
        tags: message.tags,
        source: message.source,
        parent: message.tags.batch || '',
        items: [],
      });
      return;
    }
    const batch = this.openBatches.get(ref);
    if (!batch) return;
    this.openBatches.delete(ref);
    const parent = batch.parent && this.openBatches.get(batch.parent);
    if (parent) {
      parent.items.push(batch);
      return;
    }
    if (batch.type === 'labeled-response') {
      this.resolveRequest(batch.tags.label, batch.items);
      for (const item of batch.items) {
        if (item.kind === 'batch') this.dispatchEvent(new CustomEvent('batch', { detail: item }));
        else this.deliver(item, { labelled: true });
      }
      return;
    }
    if (batch.tags.label) this.resolveRequest(batch.tags.label, [batch]);
    this.dispatchEvent(new CustomEvent('batch', { detail: batch }));
  }

  resolveRequest(label, items) {
    const pending = label && this.pendingRequests.get(label);
    if (!pending) return;
    this.pendingRequests.delete(label);
    clearTimeout(pending.timer);
    pending.resolve(items);
  }

  deliver(message, { labelled = false } = {}) {
    this.handleProtocol(message);
    if (!labelled && message.tags.label) {
      this.resolveRequest(message.tags.label, message.command === 'ACK' ? [] : [message]);
    }
    if (message.command === 'ACK') return;
    this.dispatchEvent(new CustomEvent('message', { detail: message }));
  }

  /** What the link itself must answer or track: PING, CAP, SASL,
   *  registration numerics, our own nick and account. */
  handleProtocol(message) {
    const { command, params } = message;
    switch (command) {
      case 'PING':
        this.send({ command: 'PONG', params });
        break;
      case 'CAP':
        this.handleCap(params);
        break;
      case 'AUTHENTICATE':
        if (params[0] === '+') this.sendSaslPlain();
        break;
      case '001':
        this.nick = params[0];
        this.backoff.reset();
        this.setState('connected');
        this.dispatchEvent(new CustomEvent('registered', { detail: { nick: this.nick } }));
        if (this.login.mode === 'register' && !this.registersBeforeConnect()) this.sendRegister();
        break;
      case '005':
        for (const token of params.slice(1, -1)) {
          const eq = token.indexOf('=');
          if (eq < 0) this.isupport.set(token.toUpperCase(), '');
          else this.isupport.set(token.slice(0, eq).toUpperCase(), token.slice(eq + 1));
        }
        break;
      case '432':
      case '433':
        if (!this.registered) this.tryAnotherNick(command === '432');
        break;
      case 'NICK':
        if (this.isMe(parseSource(message.source).nick)) this.nick = params[0];
        break;
      case '900':
        this.account = params[2] || '';
        break;
      case '901':
        this.account = '';
        break;
      case '903':
        this.endCapNegotiation();
        break;
      case '902':
      case '904':
      case '905':
      case '906':
      case '908':
        if (command === '908') break; // the list of mechanisms; 904 follows
        this.failLogin(params[params.length - 1] || 'login failed');
        break;
      case 'REGISTER':
        if (params[0] === 'SUCCESS') {
          this.account = params[1];
          this.dispatchEvent(new CustomEvent('accountregistered', { detail: { account: params[1] } }));
          this.endCapNegotiation();
        } else if (params[0] === 'VERIFICATION_REQUIRED') {
          this.failLogin(params[params.length - 1]);
        }
        break;
      case 'FAIL':
        if (params[0] === 'REGISTER') this.failLogin(params[params.length - 1] || 'registration failed');
        break;
      case 'ERROR':
        if (this.registration) this.registration.errorText = params[0] || 'closed by the server';
        break;
      default:
        break;
    }
  }

  handleCap([, subcommand, ...rest]) {
    const registration = this.registration;
    switch (subcommand) {
      case 'LS': {
        const more = rest[0] === '*';
        const list = more ? rest[1] : rest[0];
        for (const [name, value] of parseCapList(list || '')) registration.capsListed.set(name, value);
        if (more) return;
        this.offeredCaps = registration.capsListed;
        this.enabledCaps = new Map();
        const wanted = WANTED_CAPS.filter((cap) => this.offeredCaps.has(cap));
        if (this.login.mode === 'login' && this.offersSaslPlain()) wanted.push('sasl');
        if (this.login.mode === 'register' && this.offeredCaps.has('draft/account-registration')) {
          wanted.push('draft/account-registration');
        }
        if (wanted.length) this.send({ command: 'CAP', params: ['REQ', wanted.join(' ')] });
        else this.afterCaps();
        break;
      }
      case 'ACK':
        for (const name of (rest[0] || '').split(' ')) {
          if (!name) continue;
          if (name.startsWith('-')) this.enabledCaps.delete(name.slice(1));
          else this.enabledCaps.set(name, this.offeredCaps.get(name) ?? '');
        }
        if (!this.registered) this.afterCaps();
        break;
      case 'NAK':
        if (!this.registered) this.afterCaps();
        break;
      case 'NEW':
        for (const [name, value] of parseCapList(rest[0] || '')) this.offeredCaps.set(name, value);
        break;
      case 'DEL':
        for (const name of (rest[0] || '').split(' ')) {
          this.offeredCaps.delete(name);
          this.enabledCaps.delete(name);
        }
        break;
      default:
        break;
    }
  }

  /** Once capabilities are settled: log in, register, or finish. */
  afterCaps() {
    if (this.login.mode === 'login') {
      if (this.has('sasl')) {
        this.send({ command: 'AUTHENTICATE', params: ['PLAIN'] });
        return;
      }
      this.failLogin('this server does not offer password login (SASL PLAIN)');
      return;
    }
    if (this.login.mode === 'register' && this.registersBeforeConnect()) {
      this.sendRegister();
      return;
    }
    this.endCapNegotiation();
  }

  offersSaslPlain() {
    if (!this.offeredCaps.has('sasl')) return false;
    const mechanisms = this.offeredCaps.get('sasl');
    return !mechanisms || mechanisms.split(',').includes('PLAIN');
  }

  registersBeforeConnect() {
    const value = this.offeredCaps.get('draft/account-registration');
    return value !== undefined && value.split(',').includes('before-connect');
  }

  sendRegister() {
    const email = this.login.email ? this.login.email : '*';
    this.send({ command: 'REGISTER', params: ['*', email, this.login.password] });
  }

  sendSaslPlain() {
    const { nick, password } = this.login;
    const account = this.login.account || nick;
    const bytes = new TextEncoder().encode(`${account}\0${account}\0${password}`);
    let binary = '';
    for (const byte of bytes) binary += String.fromCharCode(byte);
    const encoded = btoa(binary);
    for (let i = 0; i < encoded.length; i += SASL_CHUNK) {
      this.send({ command: 'AUTHENTICATE', params: [encoded.slice(i, i + SASL_CHUNK)] });
    }
    if (encoded.length % SASL_CHUNK === 0) this.send({ command: 'AUTHENTICATE', params: ['+'] });
  }

  endCapNegotiation() {
    if (!this.registration || this.registration.capEnded) return;
    this.registration.capEnded = true;
    this.send({ command: 'CAP', params: ['END'] });
  }

  /** Nick taken (or refused) while registering: try `nick_`, `nick__`, then a
   *  numbered variant, so that a reload racing its own old session still gets in. */
  tryAnotherNick(invalid) {
    const registration = this.registration;
    registration.triedNicks += 1;
    if (invalid) {
      this.failLogin(`the server refused the nick ${this.login.nick}`);
      return;
    }
    const base = this.login.nick.slice(0, 26);
    const alternative =
      registration.triedNicks <= 2
        ? base + '_'.repeat(registration.triedNicks)
        : `${base.slice(0, 24)}${Math.floor(Math.random() * 1000)}`;
    this.send({ command: 'NICK', params: [alternative] });
  }

  failLogin(reason) {
    clearTimeout(this.retryTimer);
    this.send({ command: 'QUIT', params: ['login failed'] });
    this.closeSocket();
    this.setState('stopped', { reason });
    this.dispatchEvent(new CustomEvent('loginfailed', { detail: { reason } }));
  }
}
