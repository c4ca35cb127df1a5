// Unit tests of the web client's modules that need no DOM and no server: IRC
// line parsing and serialising with tag escaping, UTF-8 splitting, mentions,
// the reconnect backoff, and how typed text is cut into lines and batches. They run with the browser test and need nothing else.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff } from '../../crates/server/web/js/backoff.js';
import {
  decodeAction,
  encodeAction,
  escapeTagValue,
  formatLine,
  parseLine,
  parseSource,
  splitUtf8,
  stripFormatting,
  unescapeTagValue,
  utf8Length,
} from '../../crates/server/web/js/irc.js';
import { Outbox } from '../../crates/server/web/js/outbox.js';
import { mentionsNick, State } from '../../crates/server/web/js/state.js';

describe('irc lines', () => {
  it('parses tags, source, command and parameters', () => {
    const message = parseLine('@time=2026-12-02T06:30:29.195Z;msgid=abc;+draft/reply=x\\sy;bot :alice!~a@host PRIVMSG #lobby :hello there');
    assert.deepEqual(message, {
      tags: { time: '2026-12-02T06:30:29.195Z', msgid: 'abc', '+draft/reply': 'x y', bot: true },
      source: 'alice!~a@host',
      command: 'PRIVMSG',
      params: ['#lobby', 'hello there'],
    });
    assert.deepEqual(parseLine('ping token').params, ['token']);
    assert.deepEqual(parseLine(':server 353 me = #a :@op +voice plain').params, ['me', '=', '#a', '@op +voice plain']);
    assert.deepEqual(parseLine(':s CAP * LS :').params, ['*', 'LS', '']);
    assert.equal(parseLine('@a=b'), null);
  });

  it('escapes and unescapes tag values as message-tags says', () => {
    const value = 'a;b c\\d\re\nf';
    assert.equal(escapeTagValue(value), 'a\\:b\\sc\\\\d\\re\\nf');
    assert.equal(unescapeTagValue(escapeTagValue(value)), value);
    assert.equal(unescapeTagValue('a\\b'), 'ab', 'an unknown escape drops the backslash');
    assert.equal(unescapeTagValue('end\\'), 'end', 'a trailing backslash is dropped');
  });

  it('round-trips what it formats', () => {
    const samples = [
      { tags: { label: 'w1', '+x': 'semi;colon space' }, command: 'PRIVMSG', params: ['#a', 'hi there'] },
      { tags: {}, command: 'PRIVMSG', params: ['#a', ':starts with a colon'] },
      { tags: {}, command: 'AWAY', params: [] },
      { tags: {}, command: 'TOPIC', params: ['#a', ''] },
      { tags: { 'draft/multiline-concat': true, batch: 'ml1' }, command: 'PRIVMSG', params: ['#a', 'x'] },
    ];
    for (const sample of samples) {
      const parsed = parseLine(formatLine(sample));
      assert.deepEqual(parsed.tags, sample.tags);
      assert.equal(parsed.command, sample.command);
      assert.deepEqual(parsed.params, sample.params);
    }
  });

  it('refuses parameters that would break the framing', () => {
    assert.throws(() => formatLine({ command: 'PRIVMSG', params: ['#a', 'two\r\nlines'] }));
    assert.throws(() => formatLine({ command: 'PRIVMSG', params: ['#a b', 'x'] }));
    assert.throws(() => formatLine({ command: 'PRIVMSG', params: ['#a', 'nul\0'] }));
  });

  it('reads sources, actions and formatting', () => {
    assert.deepEqual(parseSource('bob!~b@127.0.0.1'), { nick: 'bob', user: '~b', host: '127.0.0.1' });
    assert.deepEqual(parseSource('palaver.local'), { nick: 'palaver.local', user: '', host: '' });
    assert.deepEqual(decodeAction('\x01ACTION waves\x01'), { action: true, text: 'waves' });
    assert.deepEqual(decodeAction(encodeAction('nods')), { action: true, text: 'nods' });
    assert.deepEqual(decodeAction('plain'), { action: false, text: 'plain' });
    assert.equal(stripFormatting('\x02bold\x02 \x0304,01red\x03 \x1ditalic\x0f'), 'bold red italic');
  });

  it('splits long text on UTF-8 character boundaries', () => {
    const text = 'é'.repeat(300) + ' 🙂'.repeat(100);
    const pieces = splitUtf8(text, 100);
    assert.equal(pieces.join(''), text);
    for (const piece of pieces) assert.ok(utf8Length(piece) <= 100);
    assert.ok(!pieces.some((piece) => /^[\udc00-\udfff]/.test(piece)), 'no piece starts inside a surrogate pair');
    assert.deepEqual(splitUtf8('short', 100), ['short']);
  });
});

describe('mentions', () => {
  it('finds a nick as a word, ignoring ASCII case', () => {
    assert.ok(mentionsNick('hey alice, look', 'alice'));
    assert.ok(mentionsNick('ALICE: hi', 'alice'));
    assert.ok(mentionsNick('thanks [bot]!', '[bot]'));
    assert.ok(!mentionsNick('malice aforethought', 'alice'));
    assert.ok(!mentionsNick('alice_ is another nick', 'alice'));
  });
});

describe('reconnect backoff', () => {
  it('starts at one second, doubles, and stops at thirty', () => {
    const backoff = new Backoff({ firstMs: 1000, maxMs: 30_000, random: () => 0.5 });
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(() => backoff.next()), [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    backoff.reset();
    assert.equal(backoff.next(), 1000);
  });

  it('spreads delays with jitter, within bounds', () => {
    for (const random of [0, 0.999]) {
      const backoff = new Backoff({ firstMs: 1000, maxMs: 30_000, random: () => random });
      const delays = Array.from({ length: 8 }, () => backoff.next());
      for (const delay of delays) assert.ok(delay >= 500 && delay <= 30_000, `${delay} in bounds`);
      assert.notEqual(delays[0], 1000);
    }
  });
});

describe('sending typed text', () => {
  /** A connection that records what would be sent, with the given capabilities. */
  function fakeConnection(caps) {
    const sent = [];
    let label = 1;
    return {
      sent,
      registered: true,
      login: { nick: 'me' },
      has: (cap) => caps.has(cap),
      capValue: (cap) => caps.get(cap) ?? '',
      peekLabel: () => `w${label}`,
      send(message) {
        sent.push(formatLine(message));
        return true;
      },
      request(message) {
        // As the real connection: a label only with labeled-response.
        const tags = caps.has('labeled-response') ? { ...(message.tags || {}), label: `w${label++}` } : message.tags;
        sent.push(formatLine({ ...message, tags }));
        return Promise.resolve([]);
      },
    };
  }

  function outboxWith(caps) {
    const connection = fakeConnection(caps);
    const state = new State();
    const outbox = new Outbox(connection, state);
    outbox.ready = true;
    return { connection, state, outbox, window: state.ensureWindow('#a', 'channel') };
  }

  /** The batches in what was sent: each a list of its PRIVMSG lines. */
  function batches(sent) {
    const found = [];
    let current = null;
    for (const line of sent.map(parseLine)) {
      if (line.command === 'BATCH' && line.params[0].startsWith('+')) current = [];
      else if (line.command === 'BATCH') {
        found.push(current);
        current = null;
      } else if (current) current.push(line);
    }
    return found;
  }

  it('sends a paste as draft/multiline batches within max-lines and max-bytes', () => {
    const caps = new Map([['batch', ''], ['draft/multiline', 'max-bytes=60,max-lines=3'], ['labeled-response', ''], ['echo-message', '']]);
    const { connection, outbox, window } = outboxWith(caps);
    const lines = Array.from({ length: 7 }, (_, n) => `line ${n + 1} of the paste`);
    outbox.enqueue(window, lines.join('\n'));
    const found = batches(connection.sent);
    assert.ok(found.length >= 3, 'split into several batches');
    for (const batch of found) {
      assert.ok(batch.length <= 3, 'max-lines');
      const bytes = batch.map((line) => utf8Length(line.params[1])).reduce((a, b) => a + b, 0) + batch.length - 1;
      assert.ok(bytes <= 60, `max-bytes (${bytes})`);
    }
    assert.deepEqual(found.flat().map((line) => line.params[1]), lines, 'every line once, in order');
    assert.equal(parseLine(connection.sent[0]).tags.label, 'w1', 'the first batch carries the label');
  });

  it('cuts an over-long line and marks the continuation as concat', () => {
    const caps = new Map([['batch', ''], ['draft/multiline', 'max-bytes=4096,max-lines=32']]);
    const { connection, outbox, window } = outboxWith(caps);
    const long = 'x'.repeat(900);
    outbox.enqueue(window, `short\n${long}`);
    const [batch] = batches(connection.sent);
    assert.equal(batch[0].params[1], 'short');
    assert.ok(batch.length >= 4);
    assert.ok(batch.slice(2).every((line) => line.tags['draft/multiline-concat'] === true));
    assert.equal(batch.slice(1).map((line) => line.params[1]).join(''), long);
    for (const line of connection.sent) assert.ok(utf8Length(line) < 512);
  });

  it('without draft/multiline sends one PRIVMSG per line, blank lines left out', () => {
    const { connection, outbox, window } = outboxWith(new Map([['labeled-response', '']]));
    outbox.enqueue(window, 'one\n\ntwo');
    assert.deepEqual(connection.sent, ['@label=w1 PRIVMSG #a one', 'PRIVMSG #a two']);
  });

  it('keeps lines typed while not ready, and sends them in order once ready', () => {
    const { connection, outbox, window } = outboxWith(new Map());
    outbox.ready = false;
    outbox.enqueue(window, 'first');
    outbox.enqueue(window, 'second');
    assert.equal(connection.sent.length, 0);
    assert.deepEqual(window.pending.map((message) => message.text), ['first', 'second']);
    outbox.flush();
    assert.deepEqual(connection.sent, ['PRIVMSG #a first', 'PRIVMSG #a second']);
  });
});
