// What the user sees, as data: the windows (the server window, rooms,
// private conversations), their messages in time order, members, topics,
// unread counts and mention markers, and which window is active. No DOM and no
// sockets: the session changes it, the view draws it, and every change is
// announced with a `change` event naming what changed.

import { foldCase } from './irc.js';

/** Characters a nick may hold (docs: 1–30 of ASCII letters, digits and `- _ [ ] { } \ | ^`). */
const NICK_CHAR = 'A-Za-z0-9_\\-\\[\\]{}\\\\|^';

/** Message types that are someone talking (they count as unread). */
const CHAT_TYPES = new Set(['message', 'action', 'notice']);

let nextMessageId = 1;

/** The id the next message will get: messages with a larger id arrived later. */
export function messageWatermark() {
  return nextMessageId;
}

/**
 * A line in a window. `type` is one of message, action, notice (someone
 * talking), join, part, quit, nick, kick, topic, mode (membership events,
 * shown quietly), info and error (local or server notes).
 */
export function makeMessage(fields) {
  return {
    id: nextMessageId++,
    msgid: '',
    time: new Date(),
    type: 'info',
    nick: '',
    text: '',
    self: false,
    mention: false,
    deleted: false,
    /** Bumped on every change, so the view knows to draw the message again. */
    revision: 0,
    ...fields,
  };
}

export function isChat(message) {
  return CHAT_TYPES.has(message.type);
}

/** True when `text` names `nick` as a word (ASCII case-insensitive). */
export function mentionsNick(text, nick) {
  if (!nick) return false;
  const escaped = nick.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
  return new RegExp(`(^|[^${NICK_CHAR}])${escaped}($|[^${NICK_CHAR}])`, 'i').test(text);
}

export class ChatWindow {
  constructor(name, kind) {
    /** Case-folded name: the window's identity (nicks and rooms ignore ASCII case). */
    this.key = foldCase(name);
    /** The name as the server spells it. */
    this.name = name;
    /** 'server', 'channel' or 'query'. */
    this.kind = kind;
    /** Delivered messages, oldest first (sorted by server time). */
    this.messages = [];
    /** msgids already shown, so that history overlapping live lines adds nothing twice. */
    this.msgids = new Set();
    /** Lines the user typed that the server has not confirmed yet (drawn after `messages`). */
    this.pending = [];
    /** folded nick → { nick, prefixes, away } (channels only). */
    this.members = new Map();
    this.topic = '';
    /** Whether we are in the channel now (a parted or kicked room keeps its window). */
    this.joined = false;
    this.unread = 0;
    this.mentions = 0;
    /** The server's read marker for this target (ISO time), '' when unknown. */
    this.readMarker = '';
    /** Older history: being fetched, or known to be all here. */
    this.loadingOlder = false;
    this.historyComplete = false;
    /** Text typed but not sent when the user switched away. */
    this.draft = '';
  }

  get isConversation() {
    return this.kind === 'channel' || this.kind === 'query';
  }

  /** The newest delivered message with a server time, for read markers. */
  get newestMessage() {
    for (let i = this.messages.length - 1; i >= 0; i--) {
      if (this.messages[i].msgid || isChat(this.messages[i])) return this.messages[i];
    }
    return null;
  }

  get oldestMsgid() {
    return this.messages.find((message) => message.msgid)?.msgid ?? '';
  }
}

const SERVER_WINDOW_KEY = '*server*';

export class State extends EventTarget {
  constructor(serverWindowName = 'Server') {
    super();
    /** key → ChatWindow, in the order they were opened. */
    this.windows = new Map();
    this.activeKey = SERVER_WINDOW_KEY;
    /** Our nick now. */
    this.nick = '';
    /** Whether the page is visible: messages arriving while it is hidden count as unread. */
    this.pageVisible = true;
    const server = new ChatWindow(serverWindowName, 'server');
    server.key = SERVER_WINDOW_KEY;
    this.windows.set(server.key, server);
  }

  emit(what, key = '') {
    this.dispatchEvent(new CustomEvent('change', { detail: { what, key } }));
  }

  get serverWindow() {
    return this.windows.get(SERVER_WINDOW_KEY);
  }

  get activeWindow() {
    return this.windows.get(this.activeKey) ?? this.serverWindow;
  }

  windowFor(name) {
    return this.windows.get(foldCase(name)) ?? null;
  }

  /** The window for a room or nick, created (kind `channel` or `query`) if missing. */
  ensureWindow(name, kind) {
    const existing = this.windowFor(name);
    if (existing) return existing;
    const created = new ChatWindow(name, kind);
    this.windows.set(created.key, created);
    this.emit('windows');
    return created;
  }

  /** Windows in the order the list shows them: server, rooms by name, then conversations by name. */
  get orderedWindows() {
    const rank = { server: 0, channel: 1, query: 2 };
    return [...this.windows.values()].sort(
      (a, b) => rank[a.kind] - rank[b.kind] || a.key.localeCompare(b.key),
    );
  }

  removeWindow(key) {
    if (key === SERVER_WINDOW_KEY || !this.windows.has(key)) return;
    const ordered = this.orderedWindows;
    const index = ordered.findIndex((window) => window.key === key);
    this.windows.delete(key);
    if (this.activeKey === key) {
      const next = ordered[index + 1] ?? ordered[index - 1] ?? this.serverWindow;
      this.setActive(next.key === key ? SERVER_WINDOW_KEY : next.key);
    }
    this.emit('windows');
  }

  renameWindow(oldName, newName) {
    const window = this.windowFor(oldName);
    if (!window || this.windowFor(newName)) return;
    this.windows.delete(window.key);
    window.key = foldCase(newName);
    window.name = newName;
    this.windows.set(window.key, window);
    if (this.activeKey === foldCase(oldName)) this.activeKey = window.key;
    this.emit('windows');
  }

  setActive(key) {
    if (!this.windows.has(key)) return;
    this.activeKey = key;
    const window = this.windows.get(key);
    window.unread = 0;
    window.mentions = 0;
    this.emit('active', key);
    this.emit('windows');
  }

  setNick(nick) {
    this.nick = nick;
    this.emit('nick');
  }

  /** Whether a new message in this window is out of the user's sight. */
  isUnseen(window) {
    return window.key !== this.activeKey || !this.pageVisible;
  }

  /**
   * Adds a delivered message in time order. A message whose msgid is already
   * shown is ignored (history overlapping live lines). `live` messages count
   * as unread when out of sight; history counts only past the read marker.
   * Returns false for a duplicate.
   */
  addMessage(window, message, { live = true, quiet = false } = {}) {
    if (message.msgid) {
      if (window.msgids.has(message.msgid)) return false;
      window.msgids.add(message.msgid);
    }
    if (isChat(message) && !message.self && this.nick) {
      message.mention = window.kind === 'query' || mentionsNick(message.text, this.nick);
    }
    insertByTime(window.messages, message);
    if (isChat(message) && !message.self && !message.deleted) {
      const countsLive = live && this.isUnseen(window);
      const countsHistory =
        !live && this.isUnseen(window) && window.readMarker && message.time.toISOString() > window.readMarker;
      if (countsLive || countsHistory) {
        window.unread += 1;
        if (message.mention) window.mentions += 1;
        this.emit('windows');
      }
    }
    if (!quiet) this.emit('messages', window.key);
    return true;
  }

  /** Adds a page of history; returns the messages that were new. */
  addHistory(window, messages) {
    const added = messages.filter((message) => this.addMessage(window, message, { live: false, quiet: true }));
    this.emit('messages', window.key);
    return added;
  }

  /** A local note (help, errors, connection changes) in a window. */
  note(window, text, type = 'info') {
    const message = makeMessage({ type, text });
    window.messages.push(message);
    this.emit('messages', window.key);
    return message;
  }

  /** Marks a message as deleted (`REDACT`); its text is no longer shown. */
  markDeleted(window, msgid) {
    const message = window.messages.find((candidate) => candidate.msgid === msgid);
    if (!message) return false;
    message.deleted = true;
    message.text = '';
    message.revision += 1;
    this.emit('messages', window.key);
    return true;
  }

  /** The server told us how far we have read: recount unread past it. */
  setReadMarker(window, timestamp) {
    if (timestamp && window.readMarker && timestamp <= window.readMarker) return;
    window.readMarker = timestamp;
    if (window.key === this.activeKey && this.pageVisible) return;
    let unread = 0;
    let mentions = 0;
    for (const message of window.messages) {
      if (!isChat(message) || message.self || message.deleted) continue;
      if (!timestamp || message.time.toISOString() <= timestamp) continue;
      unread += 1;
      if (message.mention) mentions += 1;
    }
    window.unread = timestamp ? unread : window.unread;
    window.mentions = timestamp ? mentions : window.mentions;
    this.emit('windows');
    this.emit('messages', window.key);
  }

  clearUnread(window) {
    if (!window.unread && !window.mentions) return;
    window.unread = 0;
    window.mentions = 0;
    this.emit('windows');
  }

  // ---- members ----

  setMembers(window, members) {
    window.members = new Map(members.map((member) => [foldCase(member.nick), member]));
    this.emit('members', window.key);
  }

  addMember(window, nick, prefixes = '') {
    window.members.set(foldCase(nick), { nick, prefixes, away: false });
    this.emit('members', window.key);
  }

  removeMember(window, nick) {
    const removed = window.members.delete(foldCase(nick));
    if (removed) this.emit('members', window.key);
    return removed;
  }

  renameMember(window, oldNick, newNick) {
    const member = window.members.get(foldCase(oldNick));
    if (!member) return false;
    window.members.delete(foldCase(oldNick));
    member.nick = newNick;
    window.members.set(foldCase(newNick), member);
    this.emit('members', window.key);
    return true;
  }

  /** Adds or removes one prefix (`@`, `+`) of a member, keeping them in rank order. */
  setMemberPrefix(window, nick, prefix, on, rankOrder) {
    const member = window.members.get(foldCase(nick));
    if (!member) return;
    const set = new Set(member.prefixes);
    if (on) set.add(prefix);
    else set.delete(prefix);
    member.prefixes = [...rankOrder].filter((candidate) => set.has(candidate)).join('');
    this.emit('members', window.key);
  }

  setAway(nick, away) {
    for (const window of this.windows.values()) {
      const member = window.members.get(foldCase(nick));
      if (member && member.away !== away) {
        member.away = away;
        this.emit('members', window.key);
      }
    }
  }

  setTopic(window, topic) {
    window.topic = topic;
    this.emit('topic', window.key);
  }

  /** Windows of channels this nick is in (for quits and nick changes). */
  windowsWithMember(nick) {
    return [...this.windows.values()].filter((window) => window.members.has(foldCase(nick)));
  }

  // ---- pending lines ----

  addPending(window, message) {
    window.pending.push(message);
    this.emit('messages', window.key);
  }

  removePending(window, message) {
    const index = window.pending.indexOf(message);
    if (index >= 0) window.pending.splice(index, 1);
    this.emit('messages', window.key);
  }

  touch(window, message) {
    message.revision += 1;
    this.emit('messages', window.key);
  }
}

/** Inserts after every message not later than this one (stable for equal times). */
function insertByTime(messages, message) {
  const time = message.time.getTime();
  let index = messages.length;
  while (index > 0 && messages[index - 1].time.getTime() > time) index -= 1;
  messages.splice(index, 0, message);
}
