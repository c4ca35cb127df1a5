// Slash commands typed in the composer. Each command is a row in one table
// saying its usage, what it does and how many arguments it needs; the table
// checks that centrally, so every command answers a mistake the same way and
// /help is generated from it. Text not starting with `/` (or starting with
// `//`, which sends a literal `/`) is said in the current window.

/**
 * `run(context, args, rest)`: `args` are the words after the command,
 * `rest` the text after the command verbatim. `context` is
 * `{ session, state, window, view }`.
 */
const COMMANDS = [
  {
    name: 'join',
    usage: '/join #room [key]',
    help: 'join a room (and show it)',
    minArgs: 1,
    run: ({ session }, [room, key]) => session.join(room, key),
  },
  {
    name: 'part',
    aliases: ['leave'],
    usage: '/part [#room] [reason]',
    help: 'leave a room (the current one by default)',
    run: ({ session, state, window }, args, rest) => {
      const named = args[0] && state.windowFor(args[0]);
      const room = named && named.kind === 'channel' ? named : window;
      if (room.kind !== 'channel') return 'You are not in a room here: /part #room';
      const reason = named && named.kind === 'channel' ? rest.slice(args[0].length).trim() : rest;
      session.part(room, reason);
      return '';
    },
  },
  {
    name: 'msg',
    usage: '/msg NICK text',
    help: 'send a private message (the conversation opens in the list)',
    minArgs: 2,
    run: ({ session }, [nick], rest) => {
      const text = rest.slice(nick.length).replace(/^ /, '');
      // As in other IRC clients, /msg stays where you are; the conversation opens in the list.
      const target = session.state.windowFor(nick);
      const window = target && target.kind === 'channel' ? target : session.openQuery(nick, { activate: false });
      session.say(window, text);
    },
  },
  {
    name: 'query',
    usage: '/query NICK [text]',
    help: 'open a private conversation',
    minArgs: 1,
    run: ({ session }, [nick], rest) => {
      const window = session.openQuery(nick);
      const text = rest.slice(nick.length).replace(/^ /, '');
      if (text) session.say(window, text);
    },
  },
  {
    name: 'me',
    usage: '/me action',
    help: 'say what you do (an action)',
    minArgs: 1,
    run: ({ session, window }, args, rest) => session.say(window, rest, { action: true }),
  },
  {
    name: 'nick',
    usage: '/nick NAME',
    help: 'change your nick',
    minArgs: 1,
    run: ({ session }, [nick]) => session.setNick(nick),
  },
  {
    name: 'topic',
    usage: '/topic [text]',
    help: 'show the topic, or set it',
    run: ({ session, state, window }, args, rest) => {
      if (window.kind !== 'channel') return 'Topics belong to rooms: switch to a room first.';
      if (!rest) {
        state.note(window, window.topic ? `Topic of ${window.name}: ${window.topic}` : `${window.name} has no topic.`);
        return '';
      }
      session.setTopic(window, rest);
      return '';
    },
  },
  {
    name: 'list',
    aliases: ['rooms'],
    usage: '/list [filter]',
    help: 'open the room directory',
    run: ({ view }, args, rest) => view.openDirectory(rest),
  },
  {
    name: 'away',
    usage: '/away [message]',
    help: 'mark yourself away (no message: back again)',
    run: ({ session }, args, rest) => session.setAway(rest),
  },
  {
    name: 'back',
    usage: '/back',
    help: 'you are back (clears /away)',
    run: ({ session }) => session.setAway(''),
  },
  {
    name: 'close',
    usage: '/close',
    help: 'close this window (leaving the room)',
    run: ({ session, window }) => {
      if (window.kind === 'server') return 'The server window cannot be closed.';
      session.close(window);
      return '';
    },
  },
  {
    name: 'quote',
    aliases: ['raw'],
    usage: '/quote LINE',
    help: 'send a raw IRC line',
    minArgs: 1,
    run: ({ session }, args, rest) => session.sendRaw(rest),
  },
  {
    name: 'help',
    usage: '/help',
    help: 'list the commands',
    run: ({ state, window }) => {
      state.note(window, 'Commands:');
      for (const command of COMMANDS) state.note(window, `${command.usage} — ${command.help}`);
      state.note(window, 'Start a line with // to send one starting with /. Shift+Enter starts a new line.');
    },
  },
];

const BY_NAME = new Map();
for (const command of COMMANDS) {
  for (const name of [command.name, ...(command.aliases || [])]) BY_NAME.set(name, command);
}

/** Every command name, for Tab completion. */
export const COMMAND_NAMES = [...BY_NAME.keys()].sort();

/**
 * Handles what the user typed in `window`. Errors are shown as local notes
 * in that window.
 */
export function runInput(text, context) {
  const { session, state, window } = context;
  if (!text.trim()) return;
  if (!text.startsWith('/') || text.startsWith('//')) {
    session.say(window, text.startsWith('//') ? text.slice(1) : text);
    return;
  }
  const firstLine = text.split('\n')[0];
  const match = /^\/(\S+)\s*(.*)$/s.exec(firstLine);
  const name = match[1].toLowerCase();
  const rest = match[2].replace(/\s+$/, '');
  const args = rest.split(/\s+/).filter(Boolean);
  const command = BY_NAME.get(name);
  if (!command) {
    state.note(window, `Unknown command /${name}. Type /help for the list.`, 'error');
    return;
  }
  if (args.length < (command.minArgs || 0)) {
    state.note(window, `Usage: ${command.usage}`, 'error');
    return;
  }
  const error = command.run(context, args, rest);
  if (typeof error === 'string' && error) state.note(window, error, 'error');
}
