// What the user can do, and keeping the session whole across reconnects.
// The view and the slash commands call these verbs (join, say, close, load
// older history, …); on every (re)connection the session rejoins the rooms,
// fetches what was missed, settles lines that were in flight, and only then
// sends what was typed meanwhile, in order.

import { Incoming } from './incoming.js';
import { foldCase, isChannelName } from './irc.js';
import { Outbox } from './outbox.js';
import { storage } from './storage.js';

/** Messages asked for per history page (the server allows up to CHATHISTORY=N). */
const HISTORY_PAGE = 50;
/** A JOIN line's channel list is kept well inside IRC's 512 bytes. */
const JOIN_LINE_BYTES = 400;
/** How far back a logged-in user's private conversations are reopened on connecting. */
const RESTORE_CONVERSATIONS_DAYS = 30;
/** How long a guest waits before asking again for a nick that was taken when it connected. */
const NICK_RETRY_MS = 3000;
/** Read markers are sent at most this often per window. */
const MARKREAD_DELAY_MS = 800;

export class Session extends EventTarget {
  constructor({ connection, state }) {
    super();
    this.connection = connection;
    this.state = state;
    this.outbox = new Outbox(connection, state);
    this.incoming = new Incoming({ connection, state, outbox: this.outbox, session: this });
    /** Rooms to be in (folded name → name as typed): rejoined after every reconnect, remembered across visits. */
    this.wantedRooms = new Map();
    /** Windows being closed by the user: their PART removes them instead of leaving a note. */
    this.closing = new Set();
    /** The room directory (`LIST`): `{ rooms, loading }`. */
    this.directory = { rooms: [], loading: false };
    /** `322` replies of a LIST in progress, shown when its `323` arrives. */
    this.collectingDirectory = [];
    /** Whether we marked ourselves away, and with what message (set again after reconnecting). */
    this.away = false;
    this.awayText = '';
    /** window key → timer of a read marker waiting to be sent (see `markRead`). */
    this.markReadTimers = new Map();
    /** True from registration until rooms are rejoined and missed history fetched. */
    this.syncing = false;
    /** The nick we asked back after logging in ('' when none): its refusal is shown quietly. */
    this.reclaimingNick = '';
    /** Set by /nick until the server confirms the change, which is then remembered. */
    this.userRenamed = false;
    /** Counts registrations, so that a catch-up overtaken by a reconnect stops. */
    this.generation = 0;

    connection.addEventListener('message', (event) => this.incoming.handleLine(event.detail));
    connection.addEventListener('batch', (event) => this.incoming.handleBatch(event.detail));
    connection.addEventListener('registered', () => this.onRegistered());
    connection.addEventListener('statechange', (event) => this.onConnectionState(event.detail));
  }

  /** Starts the first connection. `rooms` are joined; the first is shown at once. */
  start(login, rooms) {
    for (const room of rooms) {
      this.wantedRooms.set(foldCase(room), room);
      this.state.ensureWindow(room, 'channel');
    }
    if (rooms.length) this.state.setActive(foldCase(rooms[0]));
    this.connection.start(login);
  }

  // ---- connection life ----

  onConnectionState(state) {
    if (state.name !== 'connected') {
      this.outbox.pause();
      this.syncing = false;
    }
    if (state.name === 'waiting' || state.name === 'stopped') {
      for (const window of this.state.windows.values()) {
        if (window.kind === 'channel' && window.joined) {
          window.joined = false;
          this.state.setMembers(window, []);
        }
      }
    }
    this.state.emit('connection');
  }

  async onRegistered() {
    const connection = this.connection;
    this.syncing = true;
    const generation = ++this.generation;
    const wanted = connection.login.nick;
    if (foldCase(connection.nick) !== foldCase(wanted)) {
      // We got another nick because ours was taken. Logged in, the login has just freed it
      // from whoever used it: take it now. As a guest, it may be our own session from before
      // a reload that the server has not seen go yet: ask again in a moment. Either way a
      // refusal (another session of the same account keeps it) is expected, not an error.
      const delay = connection.account ? 0 : NICK_RETRY_MS;
      setTimeout(() => {
        if (generation !== this.generation || !connection.registered || foldCase(connection.nick) === foldCase(wanted)) return;
        this.reclaimingNick = wanted;
        connection.send({ command: 'NICK', params: [wanted] });
      }, delay);
    }
    if (this.away) connection.send({ command: 'AWAY', params: [this.awayText || 'away'] });
    // A request that fails (no reply, or the link dropped) must not hold the typed lines back forever:
    // each step settles either way, and only a newer connection cancels the rest.
    const settled = (promises) => Promise.allSettled(promises);
    await settled(joinLines([...this.wantedRooms.values()]).map((list) => connection.request({ command: 'JOIN', params: [list] })));
    if (generation !== this.generation || !connection.registered) return;
    if (connection.account) await settled([this.restoreConversations()]);
    if (generation !== this.generation || !connection.registered) return;
    const conversations = [...this.state.windows.values()].filter(
      (window) => window.kind === 'query' || (window.kind === 'channel' && window.joined),
    );
    await settled(conversations.map((window) => this.loadLatest(window)));
    if (generation !== this.generation || !connection.registered) return;
    this.syncing = false;
    for (const window of this.state.windows.values()) this.outbox.settleWithHistory(window);
    this.outbox.flush();
  }

  /** Our JOIN arrived (from a command, a rejoin or a server-side join). */
  joinedChannel(window) {
    if (!this.wantedRooms.has(window.key)) this.wantedRooms.set(window.key, window.name);
    this.rememberRooms();
    if (!this.syncing) this.loadLatest(window).catch(() => {});
  }

  /** We left a room (PART or KICK). */
  leftChannel(window, { kicked = false } = {}) {
    if (kicked || this.closing.has(window.key)) {
      this.wantedRooms.delete(window.key);
      this.rememberRooms();
    }
    if (this.closing.has(window.key)) {
      this.closing.delete(window.key);
      this.outbox.forgetWindow(window);
      this.state.removeWindow(window.key);
    }
  }

  /** The server refused to let us in: stop rejoining it on every reconnect. */
  joinFailed(room) {
    const key = foldCase(room);
    const window = this.state.windows.get(key);
    if (window?.joined) return; // e.g. 403 for something else about a room we are in
    this.wantedRooms.delete(key);
    this.rememberRooms();
  }

  nickChanged(nick) {
    if (foldCase(nick) === foldCase(this.reclaimingNick)) this.reclaimingNick = '';
    if (this.userRenamed) {
      storage.nick = nick;
      this.connection.login.nick = nick;
      this.userRenamed = false;
    }
  }

  rememberRooms() {
    storage.rooms = [...this.wantedRooms.values()];
  }

  // ---- history ----

  historyLimit() {
    const server = Number.parseInt(this.connection.isupport.get('CHATHISTORY'), 10);
    return Number.isFinite(server) && server > 0 ? Math.min(HISTORY_PAGE, server) : HISTORY_PAGE;
  }

  /** The newest messages of a window, or those since the newest one shown (after a reconnect). */
  async loadLatest(window) {
    if (!this.connection.has('draft/chathistory') || !window.isConversation) return;
    const newest = [...window.messages].reverse().find((message) => message.msgid);
    const reference = newest ? `timestamp=${newest.time.toISOString()}` : '*';
    const limit = this.historyLimit();
    const items = await this.connection.request({ command: 'CHATHISTORY', params: ['LATEST', window.name, reference, String(limit)] });
    if (!newest && countHistory(items) < limit) {
      window.historyComplete = true;
      this.state.emit('messages', window.key);
    }
  }

  /**
   * Reopens the private conversations of the last weeks (a logged-in user's
   * conversations belong to the account, so another device or a reload finds
   * them): `CHATHISTORY TARGETS` lists them; their windows open quietly.
   */
  async restoreConversations() {
    if (!this.connection.has('draft/chathistory')) return;
    const now = new Date();
    const since = new Date(now.getTime() - RESTORE_CONVERSATIONS_DAYS * 24 * 60 * 60 * 1000);
    const items = await this.connection.request({
      command: 'CHATHISTORY',
      params: ['TARGETS', `timestamp=${since.toISOString()}`, `timestamp=${now.toISOString()}`, String(this.historyLimit())],
    });
    const batch = items.find((item) => item.kind === 'batch' && item.type === 'draft/chathistory-targets');
    for (const line of batch?.items ?? []) {
      const target = line.params[1];
      if (target && !isChannelName(target, this.channelTypes)) this.state.ensureWindow(target, 'query');
    }
  }

  /** The page before the oldest message shown (scrolling up). */
  async loadOlder(window) {
    if (!this.connection.registered || !this.connection.has('draft/chathistory')) return;
    if (!window.isConversation || window.loadingOlder || window.historyComplete) return;
    const oldest = window.oldestMsgid;
    if (!oldest) return;
    window.loadingOlder = true;
    this.state.emit('messages', window.key);
    const limit = this.historyLimit();
    try {
      const items = await this.connection.request({ command: 'CHATHISTORY', params: ['BEFORE', window.name, `msgid=${oldest}`, String(limit)] });
      if (countHistory(items) < limit) window.historyComplete = true;
    } catch {
      // Disconnected: scrolling up again retries.
    } finally {
      window.loadingOlder = false;
      this.state.emit('messages', window.key);
    }
  }

  // ---- what the user does ----

  /** Sends text (which may hold line breaks) to a room or conversation. */
  say(window, text, { action = false } = {}) {
    if (!window.isConversation) {
      this.state.note(window, 'This window is not a conversation: join a room or open one with /query NICK.', 'error');
      return;
    }
    if (window.kind === 'channel' && !window.joined && this.connection.registered && !this.wantedRooms.has(window.key)) {
      this.state.note(window, `You are not in ${window.name}: /join ${window.name}`, 'error');
      return;
    }
    this.outbox.enqueue(window, text, { action });
  }

  /** Joins a room and shows its window at once (before the server answers), so
   *  that what the user types next goes where they expect. */
  join(name, key = '') {
    const room = isChannelName(name, this.channelTypes) ? name : `#${name}`;
    const window = this.state.ensureWindow(room, 'channel');
    this.state.setActive(window.key);
    if (window.joined) return;
    this.wantedRooms.set(foldCase(room), room);
    this.rememberRooms();
    if (this.connection.registered) this.connection.send({ command: 'JOIN', params: key ? [room, key] : [room] });
  }

  part(window, reason = '') {
    if (window.kind !== 'channel') return;
    this.wantedRooms.delete(window.key);
    this.rememberRooms();
    if (window.joined) this.connection.send({ command: 'PART', params: reason ? [window.name, reason] : [window.name] });
  }

  /** Closes a window: parts a room (the window goes when the PART arrives), or drops a conversation. */
  close(window) {
    if (window.kind === 'server') return;
    if (window.kind === 'channel' && window.joined && this.connection.registered) {
      this.closing.add(window.key);
      this.part(window);
      return;
    }
    if (window.kind === 'channel') {
      this.wantedRooms.delete(window.key);
      this.rememberRooms();
    }
    this.outbox.forgetWindow(window);
    this.state.removeWindow(window.key);
  }

  openQuery(nick, { activate = true } = {}) {
    const fresh = !this.state.windowFor(nick);
    const window = this.state.ensureWindow(nick, 'query');
    if (activate) this.state.setActive(window.key);
    if (fresh && this.connection.registered) this.loadLatest(window).catch(() => {});
    return window;
  }

  setNick(nick) {
    this.userRenamed = true;
    if (!this.connection.send({ command: 'NICK', params: [nick] })) {
      this.connection.login.nick = nick;
      storage.nick = nick;
    }
  }

  setTopic(window, text) {
    this.connection.send({ command: 'TOPIC', params: [window.name, text] });
  }

  setAway(text) {
    this.away = Boolean(text);
    this.awayText = text;
    this.connection.send(text ? { command: 'AWAY', params: [text] } : { command: 'AWAY', params: [] });
  }

  awayChanged(away) {
    this.away = away;
    this.state.emit('connection');
  }

  sendRaw(line) {
    if (!this.connection.send(line)) this.state.note(this.state.activeWindow, 'Not connected: nothing was sent.', 'error');
  }

  /** Deletes one of our messages (or, as a room operator, anyone's). */
  redact(window, message) {
    if (!message.msgid || !this.connection.has('draft/message-redaction')) return;
    this.connection.send({ command: 'REDACT', params: [window.name, message.msgid] });
  }

  get canRedact() {
    return this.connection.has('draft/message-redaction');
  }

  /** The user has seen the window up to its newest message: move the shared read marker. */
  markRead(window) {
    this.state.clearUnread(window);
    if (!this.connection.registered || !this.connection.has('draft/read-marker') || !window.isConversation) return;
    const newest = window.newestMessage;
    if (!newest || !newest.msgid) return;
    const stamp = newest.time.toISOString();
    if (window.readMarker && stamp <= window.readMarker) return;
    window.readMarker = stamp;
    clearTimeout(this.markReadTimers.get(window.key));
    this.markReadTimers.set(
      window.key,
      setTimeout(() => {
        this.markReadTimers.delete(window.key);
        this.connection.send({ command: 'MARKREAD', params: [window.name, `timestamp=${window.readMarker}`] });
      }, MARKREAD_DELAY_MS),
    );
  }

  // ---- room directory ----

  listRooms(filter = '') {
    this.directory = { rooms: this.directory.rooms, loading: true };
    this.collectingDirectory = [];
    this.state.emit('directory');
    const params = filter ? [filter] : [];
    if (!this.connection.send({ command: 'LIST', params })) {
      this.directory = { rooms: [], loading: false, error: 'Not connected.' };
      this.state.emit('directory');
    }
  }

  directoryEntry(room) {
    this.collectingDirectory.push(room);
  }

  directoryDone() {
    const rooms = this.collectingDirectory.sort((a, b) => b.members - a.members || a.name.localeCompare(b.name));
    this.directory = { rooms, loading: false };
    this.collectingDirectory = [];
    this.state.emit('directory');
  }

  get channelTypes() {
    return this.connection.isupport.get('CHANTYPES') || '#';
  }
}

/** Number of messages in a CHATHISTORY reply (its chathistory batch's items). */
function countHistory(items) {
  const batch = items.find((item) => item.kind === 'batch' && item.type === 'chathistory');
  return batch ? batch.items.length : 0;
}

/** Splits rooms into JOIN parameters that each fit a line. */
function joinLines(rooms) {
  const lines = [];
  let current = '';
  for (const room of rooms) {
    if (current && current.length + room.length + 1 > JOIN_LINE_BYTES) {
      lines.push(current);
      current = '';
    }
    current = current ? `${current},${room}` : room;
  }
  if (current) lines.push(current);
  return lines;
}
