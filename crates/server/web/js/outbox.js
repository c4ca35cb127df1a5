// Lines the user typed, from the moment they are typed until the server has
// them. Each is shown as pending (greyed) in its window; it is sent at once
// when the link is ready, or kept, in order, while it is not (disconnected,
// or rejoining after a reconnect). With echo-message and labeled-response the
// server's echo (matched by label) confirms it; an error reply marks it failed.
//
// A line sent just before a disconnect may or may not have reached the
// server: after reconnecting, the history fetched for its window settles it
// (see `settleWithHistory`) before anything is sent again, so it is neither
// lost nor doubled.
//
// Multi-line text goes as one `draft/multiline` batch when the server offers
// it (within its max-lines and max-bytes), otherwise as separate lines.

import { encodeAction, foldCase, parseCapValue, splitUtf8, utf8Length } from './irc.js';
import { makeMessage, messageWatermark } from './state.js';

/**
 * Room left for the server's `:nick!~user@host PRIVMSG target :` in a 512
 * byte line: nick ≤ 30, user ≤ 11, host ≤ 63 (a cloak or an IPv6 address),
 * plus CRLF and the CTCP wrapping of an action. Longer text is split so that
 * the server never cuts it.
 */
const LINE_OVERHEAD_BYTES = 512 - 2 - (1 + 30 + 2 + 11 + 1 + 63 + 1) - 'PRIVMSG '.length - 2 - 10;

/** Line breaks in a multiline message are counted as bytes (docs/PROTOCOL.md). */
const DEFAULT_MULTILINE_LIMITS = { maxBytes: 4096, maxLines: 32 };

let nextBatchRef = 1;

export class Outbox {
  constructor(connection, state) {
    this.connection = connection;
    this.state = state;
    /** Lines not yet confirmed, in the order typed: `{ window, target, text, action, status, label, message, watermark }`.
     *  status: queued (not sent), sent (awaiting its echo), unsure (sent, then the link dropped). */
    this.entries = [];
    /** False while disconnected or rejoining: typed lines wait. Set by the session. */
    this.ready = false;
  }

  /** Takes a line (or several, separated by \n) for a room or nick. */
  enqueue(window, text, { action = false } = {}) {
    const message = makeMessage({
      type: action ? 'action' : 'message',
      nick: this.state.nick || this.connection.login?.nick || '',
      text,
      self: true,
      pending: true,
    });
    const entry = { window, target: window.name, text, action, status: 'queued', label: '', message, watermark: 0 };
    this.entries.push(entry);
    this.state.addPending(window, message);
    if (this.ready) this.sendEntry(entry);
    return entry;
  }

  /** Sends everything waiting, in the order it was typed. */
  flush() {
    this.ready = true;
    for (const entry of [...this.entries]) {
      if (entry.status === 'queued' || entry.status === 'unsure') this.sendEntry(entry);
    }
  }

  /** The link dropped: nothing more is sent until the session says it is ready again. */
  pause() {
    this.ready = false;
    for (const entry of this.entries) {
      if (entry.status === 'sent') {
        entry.status = 'unsure';
        entry.watermark = messageWatermark();
      }
    }
  }

  /**
   * After reconnecting, history of `window` has arrived: an unsure line that
   * now shows up there, from us and with the same text, was delivered before
   * the drop and is not sent again.
   */
  settleWithHistory(window) {
    const candidates = window.messages.filter((message) => message.self);
    for (const entry of [...this.entries]) {
      if (entry.status !== 'unsure' || entry.window !== window) continue;
      const match = candidates.find(
        (message) => message.id >= entry.watermark && message.text === entry.text && !message.settles,
      );
      if (match) {
        match.settles = true;
        this.drop(entry);
      }
    }
  }

  /** The server's echo of one of our lines arrived: returns true if it confirmed a pending one. */
  confirmEcho(label, target, text) {
    let entry = label ? this.entries.find((candidate) => candidate.label === label) : null;
    if (!entry && !this.connection.has('labeled-response')) {
      entry = this.entries.find(
        (candidate) =>
          candidate.status === 'sent' && foldCase(candidate.target) === foldCase(target) && candidate.text === text,
      );
    }
    if (!entry) return false;
    this.drop(entry);
    return true;
  }

  /** An error answered one of our lines (by label): show it as failed. */
  failByLabel(label, reason) {
    const entry = this.entries.find((candidate) => candidate.label === label);
    if (!entry) return false;
    this.fail(entry, reason);
    return true;
  }

  fail(entry, reason) {
    this.entries.splice(this.entries.indexOf(entry), 1);
    entry.message.pending = false;
    entry.message.failed = reason || 'not sent';
    this.state.touch(entry.window, entry.message);
  }

  drop(entry) {
    const index = this.entries.indexOf(entry);
    if (index >= 0) this.entries.splice(index, 1);
    this.state.removePending(entry.window, entry.message);
  }

  /** Pending lines for a window that was closed are forgotten with it. */
  forgetWindow(window) {
    for (const entry of [...this.entries]) if (entry.window === window) this.drop(entry);
  }

  sendEntry(entry) {
    const connection = this.connection;
    const label = connection.has('labeled-response') ? connection.peekLabel() : '';
    const lines = entry.text.split('\n');
    const multiline = lines.length > 1 && connection.has('draft/multiline') && connection.has('batch') && !entry.action;
    const request = multiline ? this.sendMultiline(entry.target, lines) : this.sendLines(entry.target, lines, entry.action);
    if (!request) return; // not connected: stays queued
    entry.status = 'sent';
    entry.label = label;
    request
      .then((items) => this.afterReply(entry, items))
      .catch(() => {
        // Disconnected before the reply: `pause` has marked it unsure.
      });
  }

  /** Without echo-message an ACK (or nothing) is all we get: the line is delivered. */
  afterReply(entry, items) {
    if (!this.entries.includes(entry)) return; // the echo confirmed it already
    const error = items.find((item) => item.command && (item.command === 'FAIL' || /^[45]\d\d$/.test(item.command)));
    if (error) {
      this.fail(entry, error.params[error.params.length - 1]);
      return;
    }
    if (this.connection.has('echo-message')) return; // the echo will come (unlabelled, or in a later batch)
    this.drop(entry);
    const delivered = makeMessage({
      type: entry.action ? 'action' : 'message',
      nick: this.state.nick,
      text: entry.text,
      self: true,
    });
    this.state.addMessage(entry.window, delivered);
  }

  /** Plain PRIVMSGs, one per line (blank lines left out), long ones split.
   *  Returns the request for the first line (the one carrying the label). */
  sendLines(target, lines, action) {
    const maxBytes = LINE_OVERHEAD_BYTES - utf8Length(target);
    const pieces = lines.filter((line) => line.trim() !== '').flatMap((line) => splitUtf8(line, maxBytes));
    if (pieces.length === 0) return Promise.resolve([]);
    if (!this.connection.registered) return null;
    const [first, ...rest] = pieces;
    const request = this.connection.request(privmsg(target, action ? encodeAction(first) : first));
    for (const piece of rest) this.connection.send(privmsg(target, action ? encodeAction(piece) : piece));
    return request;
  }

  /**
   * One or more `draft/multiline` batches: lines are grouped so that each
   * batch stays within the server's max-lines and max-bytes; an over-long
   * line is cut and continued with `draft/multiline-concat`. Only the first
   * batch carries the label (its echo confirms the message).
   */
  sendMultiline(target, lines) {
    if (!this.connection.registered) return null;
    const limits = this.multilineLimits();
    const maxBytes = LINE_OVERHEAD_BYTES - utf8Length(target);
    const batches = [];
    let current = [];
    let currentBytes = 0;
    for (const line of lines) {
      const pieces = splitUtf8(line, maxBytes).map((text, index) => ({ text, concat: index > 0 }));
      const lineBytes = utf8Length(line) + (current.length ? 1 : 0);
      if (current.length && (current.length + pieces.length > limits.maxLines || currentBytes + lineBytes > limits.maxBytes)) {
        batches.push(current);
        current = [];
        currentBytes = 0;
      }
      current.push(...pieces);
      currentBytes += utf8Length(line) + (current.length > pieces.length ? 1 : 0);
    }
    if (current.length) batches.push(current);
    let firstRequest = null;
    for (const batch of batches) {
      // A batch of blank lines only is refused by the server; send none.
      if (batch.every((piece) => piece.text === '')) continue;
      const ref = `ml${nextBatchRef++}`;
      const open = { command: 'BATCH', params: [`+${ref}`, 'draft/multiline', target] };
      const request = firstRequest ? null : this.connection.request(open);
      if (!firstRequest) firstRequest = request;
      else this.connection.send(open);
      for (const piece of batch) {
        const tags = { batch: ref };
        if (piece.concat) tags['draft/multiline-concat'] = true;
        this.connection.send({ tags, command: 'PRIVMSG', params: [target, piece.text] });
      }
      this.connection.send({ command: 'BATCH', params: [`-${ref}`] });
    }
    return firstRequest ?? Promise.resolve([]);
  }

  multilineLimits() {
    const values = parseCapValue(this.connection.capValue('draft/multiline'));
    const maxBytes = Number.parseInt(values.get('max-bytes'), 10);
    const maxLines = Number.parseInt(values.get('max-lines'), 10);
    return {
      maxBytes: Number.isFinite(maxBytes) && maxBytes > 0 ? maxBytes : DEFAULT_MULTILINE_LIMITS.maxBytes,
      maxLines: Number.isFinite(maxLines) && maxLines > 0 ? maxLines : DEFAULT_MULTILINE_LIMITS.maxLines,
    };
  }
}

function privmsg(target, text) {
  return { command: 'PRIVMSG', params: [target, text] };
}
