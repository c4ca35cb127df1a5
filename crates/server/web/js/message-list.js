// The message list of the active window: day separators, the "new" divider
// at the read marker, consecutive lines of one person grouped under one
// name, quiet membership events, pending and failed lines, deletions, and
// keeping the scroll where the reader expects it (stuck to the bottom while
// at the bottom, still when older history is added above). Nodes are cached
// per message so that a new line costs one new node.

import { isChat } from './state.js';
import { dayKey, element, formatDay, formatFullTime, formatTime, nickColourClass, textWithLinks } from './format.js';

/** Lines from one person this close together share one name. */
const GROUP_WINDOW_MS = 5 * 60 * 1000;
/** Distance from an edge (px) that still counts as being at it. */
const EDGE_PX = 48;

export class MessageList {
  constructor({ scroller, list, status, session, state, onNickClick }) {
    this.scroller = scroller;
    this.list = list;
    this.status = status;
    this.session = session;
    this.state = state;
    this.onNickClick = onNickClick;
    /** message id → { key, node }: `key` says what the node shows, to know when to redraw it. */
    this.nodes = new Map();
    this.windowKey = '';
    /** The read marker when the window was opened: the "new" divider stays there while it is open. */
    this.dividerAfter = '';
    this.stickToBottom = true;

    scroller.addEventListener('scroll', () => this.onScroll(), { passive: true });
    list.addEventListener('click', (event) => this.onClick(event));
  }

  get window() {
    return this.state.activeWindow;
  }

  atBottom() {
    const { scrollTop, scrollHeight, clientHeight } = this.scroller;
    return scrollHeight - scrollTop - clientHeight < EDGE_PX;
  }

  onScroll() {
    this.stickToBottom = this.atBottom();
    if (this.scroller.scrollTop < EDGE_PX) this.session.loadOlder(this.window);
    if (this.stickToBottom && document.visibilityState === 'visible') this.session.markRead(this.window);
  }

  onClick(event) {
    const nick = event.target.closest('[data-nick]');
    if (nick) {
      this.onNickClick(nick.dataset.nick);
      return;
    }
    const remove = event.target.closest('[data-delete]');
    if (remove) {
      const id = Number(remove.dataset.delete);
      const message = this.window.messages.find((candidate) => candidate.id === id);
      if (message && window.confirm('Delete this message for everyone?')) this.session.redact(this.window, message);
    }
  }

  /** Draws the active window, keeping the reader's place. */
  render() {
    const window = this.window;
    const switched = window.key !== this.windowKey;
    if (switched) {
      this.windowKey = window.key;
      this.dividerAfter = window.unread > 0 ? window.readMarker : '';
      this.stickToBottom = true;
    }
    const firstBefore = this.list.querySelector('.msg')?.dataset.id;
    const previousHeight = this.scroller.scrollHeight;
    const previousTop = this.scroller.scrollTop;
    const stick = switched || this.stickToBottom;

    this.renderStatus(window);
    const nodes = this.buildNodes(window);
    if (!sameChildren(this.list, nodes)) this.list.replaceChildren(...nodes);

    if (stick) {
      const divider = switched && this.list.querySelector('.unread-divider');
      if (divider) divider.scrollIntoView({ block: 'center' });
      else this.scroller.scrollTop = this.scroller.scrollHeight;
    } else if (firstBefore && this.list.querySelector('.msg')?.dataset.id !== firstBefore) {
      // Older messages were added above: keep what the reader was looking at in place.
      this.scroller.scrollTop = previousTop + (this.scroller.scrollHeight - previousHeight);
    }
    this.stickToBottom = this.atBottom();
    if (this.stickToBottom && document.visibilityState === 'visible') this.session.markRead(window);
    // A first page too short to scroll can never be scrolled up: fetch more now.
    if (this.scroller.scrollHeight <= this.scroller.clientHeight + EDGE_PX) this.session.loadOlder(window);
    this.pruneCache();
  }

  renderStatus(window) {
    let text = '';
    if (window.loadingOlder) text = 'Loading older messages…';
    else if (window.historyComplete && window.isConversation) {
      text = window.kind === 'channel' ? `This is the beginning of ${window.name}.` : `This is the beginning of your conversation with ${window.name}.`;
    }
    this.status.textContent = text;
  }

  buildNodes(window) {
    const nodes = [];
    let previous = null;
    let dividerPlaced = false;
    for (const item of collapseQuietRuns([...window.messages, ...window.pending])) {
      const message = item.run ? item.run[0] : item;
      if (!previous || dayKey(previous.time) !== dayKey(message.time)) {
        nodes.push(this.cached(`day-${dayKey(message.time)}`, formatDay(message.time), () => daySeparator(message.time)));
      }
      if (item.run) {
        const last = item.run[item.run.length - 1];
        nodes.push(this.cached(`run-${message.id}`, String(last.id), () => runNode(item.run)));
        previous = last;
        continue;
      }
      if (
        this.dividerAfter &&
        !dividerPlaced &&
        isChat(message) &&
        !message.self &&
        !message.pending &&
        message.time.toISOString() > this.dividerAfter
      ) {
        dividerPlaced = true;
        nodes.push(this.cached('unread-divider', '', unreadDivider));
      }
      const grouped =
        previous &&
        isChat(message) &&
        isChat(previous) &&
        previous.type === message.type &&
        message.type !== 'action' &&
        previous.nick === message.nick &&
        dayKey(previous.time) === dayKey(message.time) &&
        message.time - previous.time < GROUP_WINDOW_MS &&
        !previous.deleted;
      const key = [
        message.revision,
        grouped ? 'g' : '',
        message.pending ? (this.session.connection.registered ? 'sending' : 'waiting') : '',
        message.failed || '',
        message.mention ? 'm' : '',
        this.session.canRedact ? 'r' : '',
        this.state.nick,
      ].join('|');
      nodes.push(this.cached(message.id, key, () => this.messageNode(message, grouped)));
      previous = message;
    }
    return nodes;
  }

  cached(id, key, build) {
    const entry = this.nodes.get(id);
    if (entry && entry.key === key) {
      entry.used = true;
      return entry.node;
    }
    const node = build();
    node.dataset.id = String(id);
    this.nodes.set(id, { key, node, used: true });
    return node;
  }

  pruneCache() {
    if (this.nodes.size < 4000) {
      for (const entry of this.nodes.values()) entry.used = false;
      return;
    }
    for (const [id, entry] of this.nodes) {
      if (!entry.used) this.nodes.delete(id);
      else entry.used = false;
    }
  }

  messageNode(message, grouped) {
    const classes = ['msg', `msg-${message.type}`];
    if (message.self) classes.push('self');
    if (message.mention) classes.push('mention');
    if (message.pending) classes.push('pending');
    if (message.failed) classes.push('failed');
    if (message.deleted) classes.push('deleted');
    if (grouped) classes.push('grouped');
    const node = element('li', classes.join(' '));

    const time = element('time', 'msg-time', formatTime(message.time));
    time.dateTime = message.time.toISOString();
    time.title = formatFullTime(message.time);
    node.append(time);

    const body = element('div', 'msg-body');
    node.append(body);
    if (isChat(message)) this.fillChat(body, message, grouped);
    else fillEvent(body, message);

    if (message.pending) {
      body.append(element('span', 'msg-state', this.session.connection.registered ? 'sending…' : 'waiting for the connection'));
    } else if (message.failed) {
      body.append(element('span', 'msg-state', `not sent: ${message.failed}`));
    }
    if (message.self && message.msgid && !message.deleted && this.session.canRedact) {
      const remove = element('button', 'msg-delete', 'Delete');
      remove.type = 'button';
      remove.dataset.delete = String(message.id);
      remove.setAttribute('aria-label', `Delete your message of ${formatTime(message.time)}`);
      node.append(remove);
    }
    return node;
  }

  fillChat(body, message, grouped) {
    const nick = element('button', `nick ${nickColourClass(message.nick)}`, message.nick);
    nick.type = 'button';
    nick.dataset.nick = message.nick;
    if (grouped) nick.classList.add('visually-hidden');
    if (message.type === 'action') {
      body.append(element('span', 'action-star', '*'), ' ', nick, ' ');
    } else if (message.type === 'notice') {
      body.append(element('span', 'notice-mark', '–'), nick, element('span', 'notice-mark', '–'), ' ');
    } else {
      // A grouped line's name is for screen readers only: no visible space before its text.
      body.append(nick, grouped ? '' : ' ');
    }
    if (message.deleted) {
      body.append(element('span', 'text deleted-text', 'message deleted'));
      return;
    }
    const text = element('span', 'text');
    text.append(textWithLinks(message.text));
    body.append(text);
  }
}

/** Joins, parts, quits, renames, topics, modes and notes: one quiet line of text. */
function fillEvent(body, message) {
  const nick = message.nick;
  const reason = message.text ? ` (${message.text})` : '';
  const describe = {
    join: () => `${nick} joined`,
    part: () => `${nick} left${reason}`,
    quit: () => `${nick} quit${reason}`,
    kick: () => `${nick} removed ${message.victim}${reason}`,
    nick: () => (message.self ? `You are now known as ${message.newNick}` : `${nick} is now known as ${message.newNick}`),
    topic: () => (message.text ? `${nick} changed the topic to: ${message.text}` : `${nick} cleared the topic`),
    mode: () => `${nick} set mode ${message.text}`,
  }[message.type];
  body.append(element('span', 'text', describe ? describe() : message.text));
}

/** Membership events that say nothing to read closely; three or more in a row become one line. */
const QUIET_TYPES = new Set(['join', 'part', 'quit', 'nick', 'mode']);
const QUIET_RUN_MIN = 3;

/** The messages, with each run of quiet events on one day replaced by `{ run: [events] }`. */
function collapseQuietRuns(messages) {
  const items = [];
  let run = [];
  const flush = () => {
    if (run.length >= QUIET_RUN_MIN) items.push({ run });
    else items.push(...run);
    run = [];
  };
  for (const message of messages) {
    const quiet = QUIET_TYPES.has(message.type);
    if (!quiet || (run.length && dayKey(run[0].time) !== dayKey(message.time))) flush();
    if (quiet) run.push(message);
    else items.push(message);
  }
  flush();
  return items;
}

/** One line for a run of events: each person once, with what they did in order
 *  ("erin joined, quit · dora joined"). */
function runNode(run) {
  const byNick = new Map();
  for (const event of run) {
    const verb = {
      join: 'joined',
      part: 'left',
      quit: 'quit',
      nick: `is now ${event.newNick}`,
      mode: `set mode ${event.text}`,
    }[event.type];
    if (!byNick.has(event.nick)) byNick.set(event.nick, []);
    byNick.get(event.nick).push(verb);
  }
  const node = element('li', 'msg msg-run');
  const first = run[0].time;
  const time = element('time', 'msg-time', formatTime(first));
  time.dateTime = first.toISOString();
  time.title = formatFullTime(first);
  const text = [...byNick].map(([nick, verbs]) => `${nick} ${verbs.join(', ')}`).join(' · ');
  node.append(time, element('div', 'msg-body', text));
  return node;
}

// Separators are list items of their own (a list may hold only items); their
// text says what they mark.
function daySeparator(time) {
  const node = element('li', 'day-separator');
  node.append(element('span', '', formatDay(time)));
  return node;
}

function unreadDivider() {
  const node = element('li', 'unread-divider');
  node.append(element('span', '', 'new messages'));
  return node;
}

function sameChildren(parent, nodes) {
  const children = parent.children;
  if (children.length !== nodes.length) return false;
  for (let i = 0; i < nodes.length; i++) if (children[i] !== nodes[i]) return false;
  return true;
}
