// Server lines into the state: who said what where, who joined, left or was
// renamed, topics, member lists with their prefixes, deletions, read markers,
// history batches, and replies and errors (shown in the window the user is
// in). Lines the connection handles for itself (CAP, SASL, PING) pass through
// here without effect.

import { decodeAction, foldCase, isChannelName, isCtcp, parseSource, stripFormatting } from './irc.js';
import { makeMessage } from './state.js';

/** Numerics that are part of registration or replies handled elsewhere: not shown. */
const QUIET_NUMERICS = new Set([
  '002', '003', '004', '005', '251', '252', '253', '254', '255', '265', '266', '250',
  '321', '322', '323', '324', '329', '333', '353', '366', '422', '900', '901', '903', '904', '905',
  '906', '907', '908', '315', '352', '354',
]);

/** Replies refusing a JOIN (no such channel, too many, full, invite only, banned, wrong key, bad name, rate-limited). */
const JOIN_ERRORS = new Set(['403', '405', '471', '473', '474', '475', '476', '437']);

export class Incoming {
  constructor({ connection, state, outbox, session }) {
    this.connection = connection;
    this.state = state;
    this.outbox = outbox;
    /** For what lines set off: fetching history on joining, the room directory. */
    this.session = session;
    /** NAMES replies being collected: folded channel → members. */
    this.namesBuffer = new Map();
  }

  // ---- helpers ----

  get channelTypes() {
    return this.connection.isupport.get('CHANTYPES') || '#';
  }

  isChannel(name) {
    return isChannelName(name, this.channelTypes);
  }

  /** PREFIX=(ov)@+ → { modes: 'ov', symbols: '@+' }. */
  get prefixes() {
    const match = /^\((\w*)\)(.*)$/.exec(this.connection.isupport.get('PREFIX') || '(ov)@+');
    return match ? { modes: match[1], symbols: match[2] } : { modes: 'ov', symbols: '@+' };
  }

  time(message) {
    const stamp = message.tags.time;
    const date = stamp ? new Date(stamp) : new Date();
    return Number.isNaN(date.getTime()) ? new Date() : date;
  }

  /** A membership event line (join, part, …) in a window. */
  event(window, message, type, fields) {
    this.state.addMessage(window, makeMessage({ type, time: this.time(message), ...fields }));
  }

  /** A room target may carry a STATUSMSG prefix (`@#room`); the window is the room's. */
  stripStatus(target) {
    const statusChars = this.connection.isupport.get('STATUSMSG') || '';
    let name = target;
    while (name.length > 1 && statusChars.includes(name[0]) && this.isChannel(name.slice(1))) name = name.slice(1);
    return name;
  }

  /** The window a PRIVMSG, NOTICE or REDACT belongs to: the room, or the conversation with the other party. */
  conversationWindow(sourceNick, target, { create = true } = {}) {
    const room = this.stripStatus(target);
    if (this.isChannel(room)) return create ? this.state.ensureWindow(room, 'channel') : this.state.windowFor(room);
    const other = this.connection.isMe(sourceNick) ? target : sourceNick;
    if (!other || other === '*') return null;
    return create ? this.state.ensureWindow(other, 'query') : this.state.windowFor(other);
  }

  /**
   * A PRIVMSG or NOTICE as a state message (null for CTCP other than ACTION).
   * Used for live lines and history alike.
   */
  chatMessage(line, text = line.params[1] ?? '') {
    const { nick } = parseSource(line.source);
    const decoded = decodeAction(text);
    if (!decoded.action && isCtcp(text)) return null;
    return makeMessage({
      type: decoded.action ? 'action' : line.command === 'NOTICE' ? 'notice' : 'message',
      msgid: line.tags.msgid || '',
      time: this.time(line),
      nick,
      text: stripFormatting(decoded.text),
      self: this.connection.isMe(nick),
    });
  }

  /** A draft/multiline batch as one message: lines joined by \n, or glued where tagged concat. */
  multilineMessage(batch) {
    const lines = batch.items.filter((item) => item.command === 'PRIVMSG' || item.command === 'NOTICE');
    if (lines.length === 0) return null;
    let text = '';
    lines.forEach((line, index) => {
      if (index > 0 && !line.tags['draft/multiline-concat']) text += '\n';
      text += line.params[1] ?? '';
    });
    const first = { ...lines[0], tags: { ...lines[0].tags, ...batch.tags }, source: batch.source || lines[0].source };
    return this.chatMessage(first, text);
  }

  // ---- batches ----

  handleBatch(batch) {
    switch (batch.type) {
      case 'chathistory':
        this.handleHistory(batch);
        break;
      case 'draft/multiline':
        this.handleLiveMessage(batch, this.multilineMessage(batch), batch.params[0]);
        break;
      case 'draft/chathistory-targets':
        break; // read by the session's request (restoreConversations)
      default:
        for (const item of batch.items) {
          if (item.kind === 'batch') this.handleBatch(item);
          else this.handleLine(item);
        }
    }
  }

  handleHistory(batch) {
    const target = batch.params[0];
    if (!target) return;
    const window = this.isChannel(target) ? this.state.windowFor(target) : this.state.ensureWindow(target, 'query');
    if (!window) return;
    const messages = [];
    for (const item of batch.items) {
      const message =
        item.kind === 'batch'
          ? item.type === 'draft/multiline'
            ? this.multilineMessage(item)
            : null
          : item.command === 'PRIVMSG' || item.command === 'NOTICE'
            ? this.chatMessage(item)
            : null;
      if (message) messages.push(message);
    }
    this.state.addHistory(window, messages);
  }

  // ---- lines ----

  handleLine(line) {
    const handler = this[`on${line.command}`];
    if (handler) {
      handler.call(this, line);
      return;
    }
    if (/^\d\d\d$/.test(line.command)) this.onNumeric(line);
  }

  handleLiveMessage(line, message, target) {
    if (!message) return;
    const window = this.conversationForLive(line, message.nick, target);
    if (!window) return;
    if (message.self) this.outbox.confirmEcho(line.tags.label, window.name, message.text);
    this.state.addMessage(window, message);
  }

  conversationForLive(line, nick, target) {
    const fromServer = !line.source || !line.source.includes('!');
    if (fromServer || !this.connection.registered) return this.state.serverWindow;
    const room = this.stripStatus(target);
    if (!this.isChannel(room) && line.command === 'NOTICE' && !this.connection.isMe(nick)) {
      // Private notices (services, bots) go to an existing conversation, else where the user is.
      return this.state.windowFor(nick) ?? this.state.activeWindow;
    }
    return this.conversationWindow(nick, target);
  }

  onPRIVMSG(line) {
    this.handleLiveMessage(line, this.chatMessage(line), line.params[0]);
  }

  onNOTICE(line) {
    this.handleLiveMessage(line, this.chatMessage(line), line.params[0]);
  }

  onJOIN(line) {
    const { nick } = parseSource(line.source);
    const channel = line.params[0];
    if (this.connection.isMe(nick)) {
      const window = this.state.ensureWindow(channel, 'channel');
      window.name = channel;
      window.joined = true;
      this.state.setMembers(window, []);
      // The topic comes with the join (332) if there is one; what was shown before may be stale.
      this.state.setTopic(window, '');
      this.session.joinedChannel(window);
      return;
    }
    const window = this.state.windowFor(channel);
    if (!window) return;
    this.state.addMember(window, nick);
    this.event(window, line, 'join', { nick });
  }

  onPART(line) {
    const { nick } = parseSource(line.source);
    const window = this.state.windowFor(line.params[0]);
    if (!window) return;
    if (this.connection.isMe(nick)) {
      window.joined = false;
      this.state.setMembers(window, []);
      this.session.leftChannel(window);
      if (this.state.windows.has(window.key)) this.event(window, line, 'part', { nick, text: line.params[1] || '' });
      return;
    }
    this.state.removeMember(window, nick);
    this.event(window, line, 'part', { nick, text: line.params[1] || '' });
  }

  onKICK(line) {
    const { nick: by } = parseSource(line.source);
    const [channel, victim, reason = ''] = line.params;
    const window = this.state.windowFor(channel);
    if (!window) return;
    this.event(window, line, 'kick', { nick: by, victim, text: reason });
    if (this.connection.isMe(victim)) {
      window.joined = false;
      this.state.setMembers(window, []);
      this.session.leftChannel(window, { kicked: true });
    } else {
      this.state.removeMember(window, victim);
    }
  }

  onQUIT(line) {
    const { nick } = parseSource(line.source);
    const reason = line.params[0] || '';
    for (const window of this.state.windowsWithMember(nick)) {
      this.state.removeMember(window, nick);
      this.event(window, line, 'quit', { nick, text: reason });
    }
    const conversation = this.state.windowFor(nick);
    if (conversation && conversation.kind === 'query') this.event(conversation, line, 'quit', { nick, text: reason });
  }

  onNICK(line) {
    const { nick } = parseSource(line.source);
    const newNick = line.params[0];
    const self = foldCase(nick) === foldCase(this.state.nick);
    if (self) this.state.setNick(newNick);
    const windows = new Set(this.state.windowsWithMember(nick));
    const conversation = this.state.windowFor(nick);
    if (conversation && conversation.kind === 'query') {
      this.state.renameWindow(nick, newNick);
      windows.add(conversation);
    }
    for (const window of windows) {
      this.state.renameMember(window, nick, newNick);
      this.event(window, line, 'nick', { nick, newNick, self });
    }
    if (self && windows.size === 0) this.event(this.state.activeWindow, line, 'nick', { nick, newNick, self });
    if (self) this.session.nickChanged(newNick);
  }

  onTOPIC(line) {
    const { nick } = parseSource(line.source);
    const window = this.state.windowFor(line.params[0]);
    if (!window) return;
    const topic = stripFormatting(line.params[1] || '');
    this.state.setTopic(window, topic);
    this.event(window, line, 'topic', { nick, text: topic });
  }

  onMODE(line) {
    const [target, changes = '', ...args] = line.params;
    if (!this.isChannel(target)) return;
    const window = this.state.windowFor(target);
    if (!window) return;
    const { nick } = parseSource(line.source);
    const { modes: prefixModes, symbols } = this.prefixes;
    const [listModes = '', alwaysModes = '', setOnlyModes = ''] = (this.connection.isupport.get('CHANMODES') || 'beI,k,l,imnst').split(',');
    let adding = true;
    let argIndex = 0;
    for (const mode of changes) {
      if (mode === '+' || mode === '-') {
        adding = mode === '+';
        continue;
      }
      const prefixIndex = prefixModes.indexOf(mode);
      if (prefixIndex >= 0) {
        const member = args[argIndex++];
        if (member) this.state.setMemberPrefix(window, member, symbols[prefixIndex], adding, symbols);
      } else if (listModes.includes(mode) || alwaysModes.includes(mode) || (adding && setOnlyModes.includes(mode))) {
        argIndex++;
      }
    }
    this.event(window, line, 'mode', { nick, text: [changes, ...args].join(' ') });
  }

  onAWAY(line) {
    const { nick } = parseSource(line.source);
    this.state.setAway(nick, line.params.length > 0 && line.params[0] !== '');
  }

  onREDACT(line) {
    const { nick } = parseSource(line.source);
    const [target, msgid] = line.params;
    let window = null;
    if (this.isChannel(target)) window = this.state.windowFor(target);
    else window = this.state.windowFor(this.connection.isMe(nick) ? target : nick);
    if (window) this.state.markDeleted(window, msgid);
  }

  onMARKREAD(line) {
    const [target, value = '*'] = line.params;
    const window = this.state.windowFor(target);
    if (!window) return;
    this.state.setReadMarker(window, value.startsWith('timestamp=') ? value.slice('timestamp='.length) : '');
  }

  onINVITE(line) {
    const { nick } = parseSource(line.source);
    const [invitee, channel] = line.params;
    if (!this.connection.isMe(invitee)) return;
    this.state.note(this.state.activeWindow, `${nick} invites you to ${channel}: /join ${channel}`);
  }

  onWALLOPS(line) {
    const { nick } = parseSource(line.source);
    this.state.note(this.state.serverWindow, `wallops from ${nick}: ${line.params[0] || ''}`);
  }

  onERROR(line) {
    this.state.note(this.state.serverWindow, line.params[0] || 'the server closed the connection', 'error');
  }

  onKILL(line) {
    this.state.note(this.state.activeWindow, `killed: ${line.params[1] || ''}`, 'error');
  }

  onREGISTER(line) {
    if (line.params[0] === 'SUCCESS') {
      this.state.note(this.state.activeWindow, `Account ${line.params[1]} registered; you are logged in.`);
    }
  }

  onFAIL(line) {
    this.standardReply(line, 'error');
  }

  onWARN(line) {
    this.standardReply(line, 'info');
  }

  onNOTE(line) {
    this.standardReply(line, 'info');
  }

  standardReply(line, type) {
    const [command] = line.params;
    // Login and registration failures are shown in the login dialog instead.
    if (command === 'REGISTER' || command === 'MARKREAD') return;
    const description = line.params[line.params.length - 1] || line.params.slice(1).join(' ');
    this.state.note(this.state.activeWindow, description, type);
  }

  // ---- numerics ----

  on001(line) {
    this.state.setNick(line.params[0]);
    this.state.note(this.state.serverWindow, line.params[1] || 'Welcome');
  }

  on332(line) {
    const window = this.state.windowFor(line.params[1]);
    if (window) this.state.setTopic(window, stripFormatting(line.params[2] || ''));
  }

  on331(line) {
    const window = this.state.windowFor(line.params[1]);
    if (window) this.state.setTopic(window, '');
  }

  on353(line) {
    const channel = line.params[2];
    const names = (line.params[3] || '').split(' ').filter(Boolean);
    const { symbols } = this.prefixes;
    const key = foldCase(channel);
    const buffer = this.namesBuffer.get(key) ?? [];
    for (const name of names) {
      let index = 0;
      while (index < name.length && symbols.includes(name[index])) index++;
      const nick = name.slice(index).split('!')[0];
      buffer.push({ nick, prefixes: name.slice(0, index), away: false });
    }
    this.namesBuffer.set(key, buffer);
  }

  on366(line) {
    const key = foldCase(line.params[1]);
    const window = this.state.windows.get(key);
    const members = this.namesBuffer.get(key) ?? [];
    this.namesBuffer.delete(key);
    if (window) this.state.setMembers(window, members);
  }

  on322(line) {
    this.session.directoryEntry({ name: line.params[1], members: Number(line.params[2]) || 0, topic: stripFormatting(line.params[3] || '') });
  }

  on323() {
    this.session.directoryDone();
  }

  on301(line) {
    const [, nick, text = ''] = line.params;
    const window = this.state.windowFor(nick) ?? this.state.activeWindow;
    this.state.note(window, `${nick} is away: ${text}`);
  }

  on305(line) {
    this.session.awayChanged(false);
    this.state.note(this.state.activeWindow, line.params[1] || 'You are no longer marked as away.');
  }

  on306(line) {
    this.session.awayChanged(true);
    this.state.note(this.state.activeWindow, line.params[1] || 'You are marked as away.');
  }

  on375(line) {
    this.state.note(this.state.serverWindow, line.params[1] || '');
  }

  on372(line) {
    this.state.note(this.state.serverWindow, line.params[1] || '');
  }

  on376() {}

  onNumeric(line) {
    if (QUIET_NUMERICS.has(line.command)) return;
    if (JOIN_ERRORS.has(line.command) && this.isChannel(line.params[1] || '')) this.session.joinFailed(line.params[1]);
    const text = line.params.slice(1).filter(Boolean);
    const description = text.length > 1 ? `${text.slice(0, -1).join(' ')}: ${text[text.length - 1]}` : text[0] || line.command;
    const isError = line.command[0] === '4' || line.command[0] === '5';
    if (line.command === '433' && !this.connection.registered) return;
    if (line.command === '433' && this.session.reclaimingNick && foldCase(line.params[1] || '') === foldCase(this.session.reclaimingNick)) {
      this.session.reclaimingNick = '';
      this.state.note(this.state.serverWindow, `${line.params[1]} is in use (by another of your sessions?); you are ${this.connection.nick} here.`);
      return;
    }
    const window = isError ? this.state.activeWindow : this.state.serverWindow;
    this.state.note(window, description, isError ? 'error' : 'info');
  }
}
