// Starts the client: builds the connection, state, session and view, decides
// whether to connect at once (a remembered nick or login) or to ask first,
// and picks the room to open from the URL (`?room=#name` or `#name`,
// `#lobby` by default).

import { Connection } from './connection.js';
import { LoginDialog } from './dialogs.js';
import { Session } from './session.js';
import { State } from './state.js';
import { storage } from './storage.js';
import { View } from './view.js';

const DEFAULT_ROOM = '#lobby';

function socketUrl() {
  const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${window.location.host}/irc`;
}

/** The room named by the link, if any: `?room=#rust`, `?room=rust` or `#rust`. */
function roomFromUrl() {
  const params = new URLSearchParams(window.location.search);
  let room = params.get('room') || '';
  if (!room && window.location.hash.length > 1) {
    try {
      room = decodeURIComponent(window.location.hash.slice(1));
    } catch {
      room = window.location.hash.slice(1);
    }
  }
  room = room.trim();
  if (!room) return '';
  return room.startsWith('#') ? room : `#${room}`;
}

const linkedRoom = roomFromUrl();
const connection = new Connection(socketUrl());
const state = new State();
const session = new Session({ connection, state });
let started = false;

const loginDialog = new LoginDialog({ onSubmit: connect });

new View({
  state,
  session,
  connection,
  onChangeLogin: () =>
    loginDialog.open({
      nick: state.nick || storage.nick,
      mode: storage.savedLogin ? 'login' : 'guest',
      room: linkedRoom || DEFAULT_ROOM,
      dismissable: true,
    }),
});

/** Connects with what the user chose (or what was remembered). */
function connect({ nick, mode, password = '', email = '', remember = false }) {
  storage.nick = nick;
  if (mode === 'guest') storage.savedLogin = null;
  else if (remember) storage.savedLogin = { mode: 'login', nick, password };
  else storage.savedLogin = null;
  const login = { nick, mode, password, email };
  if (started) {
    connection.start(login);
    return;
  }
  started = true;
  const rooms = [...new Set([linkedRoom, ...storage.rooms].filter(Boolean))];
  session.start(login, rooms.length ? rooms : [DEFAULT_ROOM]);
}

connection.addEventListener('loginfailed', (event) => {
  const login = connection.login;
  if (login.mode !== 'guest') storage.savedLogin = null;
  loginDialog.open({
    nick: login.nick,
    mode: login.mode,
    error: event.detail.reason,
    room: linkedRoom || DEFAULT_ROOM,
  });
});

connection.addEventListener('accountregistered', (event) => {
  // From now on (reconnects, next visits) this is a login, not a registration.
  const login = connection.login;
  login.mode = 'login';
  login.account = event.detail.account;
});

// Saying goodbye lets the server free the nick at once, so a reload keeps it.
window.addEventListener('pagehide', () => {
  if (connection.registered) connection.send({ command: 'QUIT', params: ['page closed'] });
});

const savedLogin = storage.savedLogin;
if (savedLogin && savedLogin.nick && savedLogin.password) {
  connect({ ...savedLogin, remember: true });
} else if (storage.nick) {
  connect({ nick: storage.nick, mode: 'guest' });
} else {
  loginDialog.open({ room: linkedRoom || DEFAULT_ROOM });
}
