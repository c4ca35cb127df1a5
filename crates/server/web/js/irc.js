// IRC lines as data: parsing and serialising them, with IRCv3 message tags
// (https://ircv3.net/specs/extensions/message-tags) and their value escaping,
// plus the small helpers every other module needs to read a message (sources,
// CTCP ACTION, ASCII case folding). Pure functions, no I/O, no DOM.

const TAG_UNESCAPES = { ':': ';', s: ' ', '\\': '\\', r: '\r', n: '\n' };
const TAG_ESCAPES = { ';': '\\:', ' ': '\\s', '\\': '\\\\', '\r': '\\r', '\n': '\\n' };

/** Decodes a tag value per the message-tags spec: unknown escapes drop the
 *  backslash, and a lone trailing backslash is dropped. */
export function unescapeTagValue(raw) {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    i++;
    if (i >= raw.length) break;
    out += TAG_UNESCAPES[raw[i]] ?? raw[i];
  }
  return out;
}

export function escapeTagValue(value) {
  return String(value).replace(/[; \\\r\n]/g, (c) => TAG_ESCAPES[c]);
}

/**
 * Parses one IRC line (without its line ending) into
 * `{ tags, source, command, params }`. `tags` maps names to decoded values
 * (`true` for a tag without a value), `source` is the raw prefix or null,
 * `command` is upper-cased. Returns null for a line with no command.
 */
export function parseLine(line) {
  let rest = line.replace(/[\r\n]+$/, '');
  const tags = {};
  if (rest.startsWith('@')) {
    const end = rest.indexOf(' ');
    if (end < 0) return null;
    for (const item of rest.slice(1, end).split(';')) {
      if (!item) continue;
      const eq = item.indexOf('=');
      if (eq < 0) tags[item] = true;
      else tags[item.slice(0, eq)] = unescapeTagValue(item.slice(eq + 1));
    }
    rest = rest.slice(end + 1).replace(/^ +/, '');
  }
  let source = null;
  if (rest.startsWith(':')) {
    const end = rest.indexOf(' ');
    if (end < 0) return null;
    source = rest.slice(1, end);
    rest = rest.slice(end + 1).replace(/^ +/, '');
  }
  const params = [];
  while (rest.length > 0) {
    if (rest.startsWith(':')) {
      params.push(rest.slice(1));
      break;
    }
    const end = rest.indexOf(' ');
    if (end < 0) {
      params.push(rest);
      break;
    }
    params.push(rest.slice(0, end));
    rest = rest.slice(end + 1).replace(/^ +/, '');
  }
  const command = params.shift();
  if (!command) return null;
  return { tags, source, command: command.toUpperCase(), params };
}

/**
 * Serialises `{ tags, command, params }` into one line without a line ending
 * (the WebSocket transport frames lines itself). Throws on a parameter that
 * could break the framing (CR, LF or NUL) or a middle parameter that would
 * split (a space, a leading colon, or empty): such a line must never be sent.
 */
export function formatLine({ tags = {}, command, params = [] }) {
  const parts = [];
  const tagText = Object.entries(tags)
    .filter(([, value]) => value !== undefined && value !== null && value !== false)
    .map(([name, value]) => (value === true || value === '' ? name : `${name}=${escapeTagValue(value)}`))
    .join(';');
  if (tagText) parts.push(`@${tagText}`);
  parts.push(command);
  params.forEach((param, index) => {
    const text = String(param);
    if (/[\r\n\0]/.test(text)) throw new Error(`IRC parameter contains a line break or NUL: ${command}`);
    const last = index === params.length - 1;
    if (last && (text === '' || text.includes(' ') || text.startsWith(':'))) {
      parts.push(`:${text}`);
    } else if (text === '' || text.includes(' ') || text.startsWith(':')) {
      throw new Error(`IRC middle parameter cannot hold "${text}": ${command}`);
    } else {
      parts.push(text);
    }
  });
  return parts.join(' ');
}

/** Splits a `nick!user@host` source; a server name comes back as the nick. */
export function parseSource(source) {
  if (!source) return { nick: '', user: '', host: '' };
  const bang = source.indexOf('!');
  const at = source.indexOf('@', bang < 0 ? 0 : bang);
  if (bang < 0 && at < 0) return { nick: source, user: '', host: '' };
  const nickEnd = bang >= 0 ? bang : at;
  return {
    nick: source.slice(0, nickEnd),
    user: bang >= 0 ? source.slice(bang + 1, at < 0 ? undefined : at) : '',
    host: at >= 0 ? source.slice(at + 1) : '',
  };
}

/** palaver announces CASEMAPPING=ascii: only A–Z fold. */
export function foldCase(name) {
  return String(name).replace(/[A-Z]/g, (c) => c.toLowerCase());
}

export function isChannelName(name, channelTypes = '#') {
  return name.length > 1 && channelTypes.includes(name[0]);
}

const ACTION_PATTERN = /^\x01ACTION(?: (.*?))?\x01?$/s;

/** `{ action: true, text }` for a CTCP ACTION (`/me`), else `{ action: false, text }`. */
export function decodeAction(text) {
  const match = ACTION_PATTERN.exec(text);
  if (match) return { action: true, text: match[1] ?? '' };
  return { action: false, text };
}

export function encodeAction(text) {
  return `\x01ACTION ${text}\x01`;
}

/** True for any other CTCP request (VERSION, PING, …), which a chat view hides. */
export function isCtcp(text) {
  return text.startsWith('\x01');
}

// mIRC formatting codes: bold, colour (with optional fg,bg), hex colour,
// reset, monospace, reverse, italic, strikethrough, underline. The view shows
// plain text, so they are removed rather than rendered.
const FORMATTING_PATTERN =
  /\x03(?:\d{1,2}(?:,\d{1,2})?)?|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?|[\x02\x0f\x11\x16\x1d\x1e\x1f]/g;

export function stripFormatting(text) {
  return text.replace(FORMATTING_PATTERN, '');
}

/** Bytes of a string as UTF-8, which is how IRC limits are counted. */
export function utf8Length(text) {
  return new TextEncoder().encode(text).length;
}

/**
 * Cuts text into pieces of at most `maxBytes` UTF-8 bytes without breaking
 * a character (surrogate pairs stay together), preferring to cut after a
 * space when one lies in the last quarter of a piece.
 */
export function splitUtf8(text, maxBytes) {
  const pieces = [];
  let current = '';
  let currentBytes = 0;
  for (const char of text) {
    const size = utf8Length(char);
    if (currentBytes + size > maxBytes && current) {
      const space = current.lastIndexOf(' ');
      if (space > 0 && space >= current.length * 0.75) {
        pieces.push(current.slice(0, space + 1));
        current = current.slice(space + 1);
        currentBytes = utf8Length(current);
      } else {
        pieces.push(current);
        current = '';
        currentBytes = 0;
      }
    }
    current += char;
    currentBytes += size;
  }
  if (current || pieces.length === 0) pieces.push(current);
  return pieces;
}

/** Parses a CAP value list (`a b=c d=e,f`) into a Map of name → value ('' when none). */
export function parseCapList(text) {
  const caps = new Map();
  for (const item of text.split(' ')) {
    if (!item) continue;
    const eq = item.indexOf('=');
    if (eq < 0) caps.set(item, '');
    else caps.set(item.slice(0, eq), item.slice(eq + 1));
  }
  return caps;
}

/** Parses a comma-separated `key=value` capability value such as
 *  draft/multiline's `max-bytes=4096,max-lines=32`. */
export function parseCapValue(value) {
  const entries = new Map();
  for (const item of (value || '').split(',')) {
    if (!item) continue;
    const eq = item.indexOf('=');
    if (eq < 0) entries.set(item, '');
    else entries.set(item.slice(0, eq), item.slice(eq + 1));
  }
  return entries;
}
