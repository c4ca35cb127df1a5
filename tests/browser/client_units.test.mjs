// Unit tests of the web client's pure modules (no DOM, no server): IRC line
// parsing and serialising with tag escaping, UTF-8 splitting, mentions, and
// the reconnect backoff. They run with the browser test and need nothing else.

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
import { mentionsNick } from '../../crates/server/web/js/state.js';

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
