// What the browser remembers between visits, in localStorage: the nick, the
// login (only when the user ticked "remember"), the rooms that were open and
// the theme. Every access tolerates storage being unavailable (private
// browsing, quotas): the client then simply forgets.

const PREFIX = 'palaver.';

function read(name) {
  try {
    const raw = window.localStorage.getItem(PREFIX + name);
    return raw === null ? null : JSON.parse(raw);
  } catch {
    return null;
  }
}

function write(name, value) {
  try {
    if (value === null || value === undefined) window.localStorage.removeItem(PREFIX + name);
    else window.localStorage.setItem(PREFIX + name, JSON.stringify(value));
  } catch {
    // Storage unavailable: nothing is remembered, which is acceptable.
  }
}

export const storage = {
  /** The nick last chosen. */
  get nick() {
    return read('nick') ?? '';
  },
  set nick(value) {
    write('nick', value || null);
  },

  /** `{ mode: 'login', nick, password }` when the user asked to stay logged in, else null. */
  get savedLogin() {
    return read('login');
  },
  set savedLogin(value) {
    write('login', value);
  },

  /** Rooms open at the last visit, rejoined on the next one. */
  get rooms() {
    const rooms = read('rooms');
    return Array.isArray(rooms) ? rooms.filter((room) => typeof room === 'string') : [];
  },
  set rooms(value) {
    write('rooms', value);
  },

  /** 'light', 'dark', or null to follow the system. */
  get theme() {
    const theme = read('theme');
    return theme === 'light' || theme === 'dark' ? theme : null;
  },
  set theme(value) {
    write('theme', value);
  },
};
