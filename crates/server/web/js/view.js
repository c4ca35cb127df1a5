// The page around the messages: the window list with unread and mention
// markers, the header (title, topic, connection state), the member list,
// the panels that slide in at phone width, the theme toggle, keyboard
// shortcuts and the screen-reader announcements. It draws the state and turns
// clicks and keys into session calls; it never talks to the server itself.

import { runInput } from './commands.js';
import { Composer } from './composer.js';
import { DirectoryDialog, JoinDialog, SwitcherDialog } from './dialogs.js';
import { element, nickColourClass } from './format.js';
import { MessageList } from './message-list.js';
import { isChat } from './state.js';
import { applyStoredTheme, effectiveTheme, onSystemThemeChange, toggleTheme } from './theme.js';

/** Width (px) below which the member list is a panel instead of a column; keep in step with style.css. */
const MEMBERS_COLUMN_MIN_WIDTH = 1000;

function byId(id) {
  return document.getElementById(id);
}

export class View {
  constructor({ state, session, connection, onChangeLogin }) {
    this.state = state;
    this.session = session;
    this.connection = connection;
    this.app = byId('app');
    this.dirty = new Set();
    this.frame = 0;
    this.statusTimer = 0;

    this.messageList = new MessageList({
      scroller: byId('messages'),
      list: byId('message-list'),
      status: byId('history-status'),
      session,
      state,
      onNickClick: (nick) => this.openConversation(nick),
    });
    this.composer = new Composer({
      form: byId('composer'),
      input: byId('input'),
      state,
      onSubmit: (text) => runInput(text, { session, state, window: state.activeWindow, view: this }),
    });
    this.joinDialog = new JoinDialog({ onJoin: (room) => session.join(room) });
    this.directory = new DirectoryDialog({ session, onJoin: (room) => session.join(room) });
    this.switcher = new SwitcherDialog({ state, onChoose: (key) => this.activate(key) });

    applyStoredTheme();
    onSystemThemeChange(() => this.renderTheme());
    this.renderTheme();

    this.bindControls(onChangeLogin);
    state.addEventListener('change', (event) => this.invalidate(event.detail.what, event.detail.key));
    document.addEventListener('visibilitychange', () => {
      state.pageVisible = document.visibilityState === 'visible';
      if (state.pageVisible) this.invalidate('messages', state.activeKey);
    });
    this.invalidate('all');
  }

  bindControls(onChangeLogin) {
    byId('window-list').addEventListener('click', (event) => {
      const close = event.target.closest('[data-close-window]');
      if (close) {
        const window = this.state.windows.get(close.dataset.closeWindow);
        if (window) this.session.close(window);
        return;
      }
      const item = event.target.closest('[data-window]');
      if (item) this.activate(item.dataset.window);
    });
    byId('member-list').addEventListener('click', (event) => {
      const member = event.target.closest('[data-nick]');
      if (member) this.openConversation(member.dataset.nick);
    });
    byId('open-join').addEventListener('click', () => {
      this.closePanel();
      this.joinDialog.open();
    });
    byId('open-directory').addEventListener('click', () => this.openDirectory());
    byId('change-login').addEventListener('click', () => onChangeLogin());
    byId('reconnect-now').addEventListener('click', () => this.connection.reconnectNow());
    byId('toggle-theme').addEventListener('click', () => {
      toggleTheme();
      this.renderTheme();
    });
    byId('toggle-windows').addEventListener('click', () => this.togglePanel('windows'));
    byId('toggle-members').addEventListener('click', () => this.togglePanel('members'));
    byId('scrim').addEventListener('click', () => this.closePanel());
    byId('skip-to-input').addEventListener('click', () => this.composer.focus());
    document.addEventListener('keydown', (event) => this.onGlobalKey(event));
  }

  // ---- keyboard ----

  onGlobalKey(event) {
    if (document.querySelector('dialog[open]')) return; // dialogs handle their own keys
    if (event.altKey && !event.ctrlKey && (event.key === 'ArrowUp' || event.key === 'ArrowDown')) {
      event.preventDefault();
      this.step(event.key === 'ArrowUp' ? -1 : 1);
      return;
    }
    if (event.altKey && !event.ctrlKey && /^[1-9]$/.test(event.key)) {
      const window = this.state.orderedWindows[Number(event.key) - 1];
      if (window) {
        event.preventDefault();
        this.activate(window.key);
      }
      return;
    }
    if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === 'k') {
      event.preventDefault();
      this.switcher.open();
      return;
    }
    if (event.key === 'Escape' && this.app.dataset.panel) {
      event.preventDefault();
      this.closePanel();
      return;
    }
    if ((event.key === 'PageUp' || event.key === 'PageDown') && event.target === byId('input')) {
      event.preventDefault();
      const scroller = byId('messages');
      scroller.scrollBy({ top: (event.key === 'PageUp' ? -0.9 : 0.9) * scroller.clientHeight });
    }
  }

  /** Alt+Up/Down: the previous or next window in the list, wrapping around. */
  step(direction) {
    const windows = this.state.orderedWindows;
    const index = windows.findIndex((window) => window.key === this.state.activeKey);
    const next = windows[(index + direction + windows.length) % windows.length];
    this.activate(next.key);
  }

  activate(key) {
    this.state.setActive(key);
    this.closePanel();
    this.composer.focus();
  }

  openConversation(nick) {
    if (this.connection.isMe(nick)) return;
    this.session.openQuery(nick);
    this.closePanel();
    this.composer.focus();
  }

  openDirectory(filter = '') {
    this.closePanel();
    this.directory.open(filter);
  }

  // ---- panels (phone width) ----

  togglePanel(name) {
    if (this.app.dataset.panel === name) this.closePanel();
    else this.openPanel(name);
  }

  openPanel(name) {
    this.app.dataset.panel = name;
    byId('scrim').hidden = false;
    byId('toggle-windows').setAttribute('aria-expanded', String(name === 'windows'));
    byId('toggle-members').setAttribute('aria-expanded', String(name === 'members'));
    const panel = byId(name === 'windows' ? 'sidebar' : 'members');
    panel.querySelector('button')?.focus();
  }

  closePanel() {
    const open = this.app.dataset.panel;
    if (!open) return;
    this.app.dataset.panel = '';
    byId('scrim').hidden = true;
    byId('toggle-windows').setAttribute('aria-expanded', 'false');
    byId('toggle-members').setAttribute('aria-expanded', 'false');
  }

  // ---- drawing ----

  /** Collects what changed and draws once per frame. */
  invalidate(what, key) {
    // The composer follows the active window at once, not at the next frame,
    // so that nothing typed in between lands in the wrong window.
    if (what === 'active') this.composer.switchTo(this.state.activeWindow);
    if (what === 'messages' && key && key !== this.state.activeKey) {
      this.announceElsewhere(key);
      return;
    }
    if (what === 'messages') this.announceActive();
    this.dirty.add(what);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.frame = 0;
    const dirty = this.dirty;
    this.dirty = new Set();
    const all = dirty.has('all');
    if (all) this.composer.switchTo(this.state.activeWindow);
    if (all || dirty.has('active')) this.app.dataset.kind = this.state.activeWindow.kind;
    if (all || dirty.has('windows') || dirty.has('active')) this.renderWindowList();
    if (all || dirty.has('active') || dirty.has('topic')) this.renderHeader();
    if (all || dirty.has('active') || dirty.has('members')) this.renderMembers();
    if (all || dirty.has('active') || dirty.has('messages') || dirty.has('nick') || dirty.has('connection')) this.messageList.render();
    if (all || dirty.has('connection') || dirty.has('nick')) this.renderConnection();
    if (dirty.has('directory') && this.directory.isOpen) this.directory.render();
  }

  renderWindowList() {
    const items = [];
    let previousKind = '';
    for (const window of this.state.orderedWindows) {
      if (window.kind !== previousKind && window.kind !== 'server') {
        const heading = element('li', 'window-heading', window.kind === 'channel' ? 'Rooms' : 'Direct messages');
        heading.setAttribute('aria-hidden', 'true');
        items.push(heading);
      }
      previousKind = window.kind;
      items.push(this.windowItem(window));
    }
    byId('window-list').replaceChildren(...items);

    const elsewhere = this.state.orderedWindows.filter((window) => window.key !== this.state.activeKey);
    const unread = elsewhere.reduce((sum, window) => sum + window.unread, 0);
    const mentions = elsewhere.reduce((sum, window) => sum + window.mentions, 0);
    const dot = byId('elsewhere-unread');
    dot.hidden = unread === 0;
    dot.classList.toggle('mention', mentions > 0);
    const active = this.state.activeWindow;
    document.title = `${mentions ? `(${mentions}) ` : unread ? '• ' : ''}${active.kind === 'server' ? '' : `${active.name} — `}palaver`;
  }

  windowItem(window) {
    const item = element('li', `window-item kind-${window.kind}`);
    const button = element('button', 'window-button');
    button.type = 'button';
    button.dataset.window = window.key;
    if (window.key === this.state.activeKey) {
      button.setAttribute('aria-current', 'page');
      item.classList.add('active');
    }
    if (window.unread) item.classList.add('unread');
    if (window.mentions) item.classList.add('mentioned');
    if (window.kind === 'channel' && !window.joined) item.classList.add('not-joined');
    const name = element('span', `window-name${window.kind === 'query' ? ` ${nickColourClass(window.name)}` : ''}`, window.name);
    button.append(name);
    if (window.unread) {
      const badge = element('span', `badge${window.mentions ? ' mention' : ''}`, String(window.unread));
      badge.setAttribute('aria-label', `${window.unread} unread${window.mentions ? `, ${window.mentions} mentioning you` : ''}`);
      button.append(badge);
    }
    item.append(button);
    if (window.kind !== 'server') {
      const close = element('button', 'window-close');
      close.type = 'button';
      close.dataset.closeWindow = window.key;
      close.setAttribute('aria-label', window.kind === 'channel' ? `Leave ${window.name}` : `Close ${window.name}`);
      close.textContent = '×';
      item.append(close);
    }
    return item;
  }

  renderHeader() {
    const window = this.state.activeWindow;
    byId('window-title').textContent = window.name;
    const topic = byId('window-topic');
    topic.textContent = window.kind === 'channel' ? window.topic : window.kind === 'query' ? 'Private conversation' : '';
    topic.title = window.topic || '';
  }

  renderMembers() {
    const window = this.state.activeWindow;
    const symbols = this.prefixSymbols();
    const members = [...window.members.values()].sort(
      (a, b) => rank(a, symbols) - rank(b, symbols) || a.nick.toLowerCase().localeCompare(b.nick.toLowerCase()),
    );
    byId('member-count').textContent = window.kind === 'channel' ? `${members.length} ${members.length === 1 ? 'member' : 'members'}` : 'Members';
    const items = members.map((member) => {
      const item = element('li', 'member');
      const button = element('button', `member-button${member.away ? ' away' : ''}`);
      button.type = 'button';
      button.dataset.nick = member.nick;
      const prefix = member.prefixes[0] || '';
      const mark = element('span', 'member-prefix', prefix);
      mark.title = { '@': 'room operator', '+': 'voiced' }[prefix] || '';
      if (mark.title) mark.setAttribute('aria-label', mark.title);
      button.append(mark, element('span', `member-nick ${nickColourClass(member.nick)}`, member.nick));
      if (member.away) button.append(element('span', 'visually-hidden', ' (away)'));
      item.append(button);
      return item;
    });
    byId('member-list').replaceChildren(...items);
    byId('toggle-members').hidden = window.kind !== 'channel';
  }

  prefixSymbols() {
    const match = /^\(\w*\)(.*)$/.exec(this.connection.isupport.get('PREFIX') || '(ov)@+');
    return match ? match[1] : '@+';
  }

  renderConnection() {
    const { name, retryAt, reason } = this.connection.state;
    const status = byId('connection-status');
    status.dataset.state = name;
    clearTimeout(this.statusTimer);
    let text;
    switch (name) {
      case 'connected':
        text = this.session.away ? 'Connected · away' : 'Connected';
        break;
      case 'connecting':
      case 'registering':
        text = 'Connecting…';
        break;
      case 'waiting': {
        const seconds = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
        text = `Disconnected · retrying in ${seconds} s`;
        this.statusTimer = setTimeout(() => this.renderConnection(), 1000);
        break;
      }
      case 'stopped':
        text = 'Disconnected';
        break;
      default:
        text = 'Not connected';
    }
    byId('connection-text').textContent = text;
    status.title = reason || '';
    byId('reconnect-now').hidden = name !== 'waiting';
    const nick = this.state.nick || this.connection.login?.nick || '';
    byId('my-nick').textContent = nick;
    document.querySelector('.me').hidden = !nick;
    byId('my-nick').className = `me-nick ${nickColourClass(this.state.nick || '')}`;
  }

  renderTheme() {
    const dark = effectiveTheme() === 'dark';
    const button = byId('toggle-theme');
    button.setAttribute('aria-pressed', String(dark));
    button.title = dark ? 'Switch to the light theme' : 'Switch to the dark theme';
  }

  // ---- announcements (modest: new lines in the open window, and mentions elsewhere) ----

  announceActive() {
    const window = this.state.activeWindow;
    const last = window.messages[window.messages.length - 1];
    if (!last || last === this.lastAnnounced || !isChat(last) || last.self) return;
    if (Date.now() - last.time.getTime() > 10_000) return; // history, not news
    this.lastAnnounced = last;
    this.announce(`${last.nick}: ${last.text}`);
  }

  announceElsewhere(key) {
    const window = this.state.windows.get(key);
    this.dirty.add('windows');
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
    const last = window?.messages[window.messages.length - 1];
    if (!last || last === this.lastAnnounced || !last.mention || Date.now() - last.time.getTime() > 10_000) return;
    this.lastAnnounced = last;
    this.announce(window.kind === 'query' ? `Private message from ${last.nick}` : `${last.nick} mentioned you in ${window.name}`);
  }

  announce(text) {
    const announcer = byId('announcer');
    const line = element('p', '', text);
    announcer.append(line);
    while (announcer.childElementCount > 3) announcer.firstElementChild.remove();
  }
}

function rank(member, symbols) {
  const prefix = member.prefixes[0];
  const index = prefix ? symbols.indexOf(prefix) : -1;
  return index < 0 ? symbols.length : index;
}
