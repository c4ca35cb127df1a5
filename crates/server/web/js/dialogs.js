// The dialogs: choosing a nick or logging in, joining a room, the room
// directory (LIST), and the quick switcher (Ctrl+K). Each is a native
// <dialog>, so Escape closes it and focus returns where it was.

import { element, nickColourClass } from './format.js';

/** palaver's nick rule: 1–30 of letters, digits and - _ [ ] { } \ | ^, not starting with a digit or -. */
const NICK_PATTERN = /^[A-Za-z_[\]{}\\|^][A-Za-z0-9_\-[\]{}\\|^]{0,29}$/;

function nickProblem(nick) {
  if (!nick) return 'Choose a nick.';
  if (nick.length > 30) return 'A nick has at most 30 characters.';
  if (!NICK_PATTERN.test(nick)) return 'A nick uses letters, digits and - _ [ ] { } \\ | ^, and does not start with a digit or -.';
  return '';
}

function byId(id) {
  return document.getElementById(id);
}

/** Closes a dialog from any of its `data-close` buttons. */
function wireCloseButtons(dialog) {
  dialog.addEventListener('click', (event) => {
    if (event.target.closest('[data-close]')) dialog.close();
    // A click on the backdrop (the dialog box itself, outside its form) closes it too.
    if (event.target === dialog && dialog.dataset.dismissable !== 'false') dialog.close();
  });
}

export class LoginDialog {
  /** `onSubmit({ nick, mode, password, email, remember })` starts the connection. */
  constructor({ onSubmit }) {
    this.dialog = byId('login-dialog');
    this.form = byId('login-form');
    this.nick = byId('login-nick');
    this.password = byId('login-password');
    this.email = byId('login-email');
    this.remember = byId('login-remember');
    this.error = byId('login-error');
    this.submitButton = byId('login-submit');
    this.onSubmit = onSubmit;
    /** The first time there is nothing behind the dialog: it cannot be dismissed. */
    this.dismissable = false;
    this.room = '#lobby';

    this.form.addEventListener('change', () => this.showFields());
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    this.dialog.addEventListener('cancel', (event) => {
      if (!this.dismissable) event.preventDefault();
    });
    this.dialog.addEventListener('click', (event) => {
      if (event.target === this.dialog && this.dismissable) this.dialog.close();
    });
  }

  get mode() {
    return this.form.elements.mode.value;
  }

  showFields() {
    const mode = this.mode;
    byId('password-field').hidden = mode === 'guest';
    byId('email-field').hidden = mode !== 'register';
    byId('remember-field').hidden = mode === 'guest';
    this.password.autocomplete = mode === 'register' ? 'new-password' : 'current-password';
    this.submitButton.textContent = { guest: `Join ${this.room}`, login: 'Log in', register: 'Create account' }[mode];
  }

  open({ nick = '', mode = 'guest', error = '', room = '#lobby', dismissable = false } = {}) {
    this.room = room;
    this.dismissable = dismissable;
    this.dialog.dataset.dismissable = String(dismissable);
    this.nick.value = nick;
    this.form.elements.mode.value = mode;
    this.error.textContent = error;
    this.showFields();
    if (!this.dialog.open) this.dialog.showModal();
    (nick && mode !== 'guest' ? this.password : this.nick).focus();
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  submit() {
    const nick = this.nick.value.trim();
    const mode = this.mode;
    const password = this.password.value;
    const problem =
      nickProblem(nick) ||
      (mode !== 'guest' && !password ? 'Enter your password.' : '') ||
      (mode !== 'guest' && /\s/.test(password) ? 'A password cannot contain spaces.' : '') ||
      (mode === 'register' && password.length < 8 ? 'Choose a password of at least 8 characters.' : '');
    if (problem) {
      this.error.textContent = problem;
      return;
    }
    this.error.textContent = '';
    this.close();
    this.password.value = '';
    this.onSubmit({ nick, mode, password, email: this.email.value.trim(), remember: this.remember.checked });
  }
}

export class JoinDialog {
  constructor({ onJoin }) {
    this.dialog = byId('join-dialog');
    this.input = byId('join-name');
    wireCloseButtons(this.dialog);
    byId('join-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const name = this.input.value.trim();
      if (!name) return;
      this.dialog.close();
      onJoin(name.startsWith('#') ? name : `#${name}`);
    });
  }

  open() {
    this.input.value = '';
    this.dialog.showModal();
    this.input.focus();
  }
}

export class DirectoryDialog {
  constructor({ session, onJoin }) {
    this.dialog = byId('directory-dialog');
    this.filter = byId('directory-filter');
    this.list = byId('directory-list');
    this.status = byId('directory-status');
    this.session = session;
    wireCloseButtons(this.dialog);
    byId('directory-form').addEventListener('submit', (event) => event.preventDefault());
    this.filter.addEventListener('input', () => this.render());
    this.list.addEventListener('click', (event) => {
      const button = event.target.closest('[data-room]');
      if (!button) return;
      this.dialog.close();
      onJoin(button.dataset.room);
    });
  }

  open(filter = '') {
    this.filter.value = filter;
    if (!this.dialog.open) this.dialog.showModal();
    this.filter.focus();
    this.session.listRooms();
    this.render();
  }

  get isOpen() {
    return this.dialog.open;
  }

  render() {
    const { rooms, loading, error } = this.session.directory;
    const query = this.filter.value.trim().toLowerCase();
    const shown = rooms.filter((room) => !query || room.name.toLowerCase().includes(query) || room.topic.toLowerCase().includes(query));
    this.status.textContent = error
      ? error
      : loading && rooms.length === 0
        ? 'Loading rooms…'
        : `${shown.length} ${shown.length === 1 ? 'room' : 'rooms'}${query ? ' match' : ''}`;
    const items = shown.map((room) => {
      const item = element('li', 'directory-item');
      const text = element('div', 'directory-text');
      const name = element('span', 'directory-name', room.name);
      const count = element('span', 'directory-count', `${room.members} ${room.members === 1 ? 'member' : 'members'}`);
      text.append(name, count);
      if (room.topic) text.append(element('p', 'directory-topic', room.topic));
      const joined = this.session.state.windowFor(room.name)?.joined;
      const join = element('button', 'quiet-button', joined ? 'Open' : 'Join');
      join.type = 'button';
      join.dataset.room = room.name;
      join.setAttribute('aria-label', `${joined ? 'Open' : 'Join'} ${room.name}`);
      item.append(text, join);
      return item;
    });
    this.list.replaceChildren(...items);
  }
}

/** Ctrl+K: type part of a window's name, arrows to choose, Enter to go. */
export class SwitcherDialog {
  constructor({ state, onChoose }) {
    this.dialog = byId('switcher-dialog');
    this.input = byId('switcher-input');
    this.list = byId('switcher-list');
    this.state = state;
    this.onChoose = onChoose;
    this.matches = [];
    this.selected = 0;
    wireCloseButtons(this.dialog);
    byId('switcher-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.choose(this.selected);
    });
    this.input.addEventListener('input', () => {
      this.selected = 0;
      this.render();
    });
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
        event.preventDefault();
        const step = event.key === 'ArrowDown' ? 1 : -1;
        this.selected = (this.selected + step + this.matches.length) % Math.max(1, this.matches.length);
        this.render();
      }
    });
    this.list.addEventListener('click', (event) => {
      const option = event.target.closest('[data-index]');
      if (option) this.choose(Number(option.dataset.index));
    });
  }

  open() {
    this.input.value = '';
    this.selected = 0;
    this.render();
    this.dialog.showModal();
    this.input.focus();
  }

  choose(index) {
    const window = this.matches[index];
    if (!window) return;
    this.dialog.close();
    this.onChoose(window.key);
  }

  render() {
    const query = this.input.value.trim().toLowerCase();
    // Unread windows first: switching is mostly to catch up.
    this.matches = this.state.orderedWindows
      .filter((window) => window.name.toLowerCase().includes(query))
      .sort((a, b) => b.mentions - a.mentions || b.unread - a.unread);
    const options = this.matches.map((window, index) => {
      const option = element('li', 'switcher-option');
      option.id = `switcher-option-${index}`;
      option.setAttribute('role', 'option');
      option.dataset.index = String(index);
      option.setAttribute('aria-selected', String(index === this.selected));
      const name = element('span', window.kind === 'query' ? nickColourClass(window.name) : '', window.name);
      option.append(name);
      if (window.unread) option.append(element('span', `badge${window.mentions ? ' mention' : ''}`, String(window.unread)));
      return option;
    });
    this.list.replaceChildren(...options);
    if (this.matches.length) this.input.setAttribute('aria-activedescendant', `switcher-option-${this.selected}`);
    else this.input.removeAttribute('aria-activedescendant');
  }
}
