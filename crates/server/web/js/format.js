// How things read on screen: times in the browser's local time, day labels,
// nick colour classes, and message text turned into DOM nodes with links.
// Everything user-supplied becomes text nodes (never HTML), so a nick, topic
// or message can only ever show as the characters it holds.

const NICK_COLOURS = 16;

/** A stable colour class for a nick (`nick-c0` … `nick-c15`), the same on every page and device. */
export function nickColourClass(nick) {
  let hash = 2166136261;
  for (const char of nick.toLowerCase()) {
    hash ^= char.codePointAt(0);
    hash = Math.imul(hash, 16777619) >>> 0;
  }
  return `nick-c${hash % NICK_COLOURS}`;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });

export function formatTime(date) {
  return timeFormat.format(date);
}

export function formatFullTime(date) {
  return fullFormat.format(date);
}

/** The local calendar day of a time, for day-change separators. */
export function dayKey(date) {
  return `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;
}

export function formatDay(date) {
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (dayKey(date) === dayKey(today)) return 'Today';
  if (dayKey(date) === dayKey(yesterday)) return 'Yesterday';
  return dayFormat.format(date);
}

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+/gi;
/** Punctuation that usually ends a sentence rather than a URL. */
const TRAILING_PUNCTUATION = /[.,;:!?)\]}]+$/;

/**
 * Message text as nodes: text nodes, with http(s) links as anchors that open
 * in a new tab without telling the target where they came from.
 */
export function textWithLinks(text) {
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    let url = match[0];
    const trailing = TRAILING_PUNCTUATION.exec(url);
    // Keep a closing bracket that closes one inside the URL (Wikipedia-style links).
    if (trailing && !(trailing[0] === ')' && url.includes('('))) url = url.slice(0, -trailing[0].length);
    const start = match.index;
    if (start > last) fragment.append(document.createTextNode(text.slice(last, start)));
    const link = document.createElement('a');
    link.href = url;
    link.textContent = url;
    link.target = '_blank';
    link.rel = 'noopener noreferrer nofollow';
    fragment.append(link);
    last = start + url.length;
  }
  if (last < text.length) fragment.append(document.createTextNode(text.slice(last)));
  return fragment;
}

/** Creates an element with classes and text content (never HTML). */
export function element(tag, className = '', text = '') {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}
