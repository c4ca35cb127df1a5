// The line editor at the bottom: Enter sends, Shift+Enter starts a new line,
// Tab completes nicks (and /commands, #rooms), Up and Down recall what was
// sent before, and each window keeps its own unsent draft.

import { COMMAND_NAMES } from './commands.js';

const MAX_ROWS = 8;
const RECALL_LIMIT = 100;

export class Composer {
  constructor({ form, input, state, onSubmit }) {
    this.form = form;
    this.input = input;
    this.state = state;
    this.onSubmit = onSubmit;
    /** Lines sent, newest last, for Up/Down recall. */
    this.sent = [];
    this.recallIndex = -1;
    /** An ongoing Tab completion: `{ start, end, candidates, index, prefix }`. */
    this.completion = null;
    this.windowKey = '';

    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    input.addEventListener('keydown', (event) => this.onKeyDown(event));
    input.addEventListener('input', () => {
      this.completion = null;
      this.resize();
    });
  }

  /** The active window changed: keep the old window's draft and show the new one's. */
  switchTo(window) {
    const previous = this.state.windows.get(this.windowKey);
    if (previous) previous.draft = this.input.value;
    this.windowKey = window.key;
    this.input.value = window.draft || '';
    this.input.placeholder = window.isConversation ? `Message ${window.name}` : 'Type /join #room or /help';
    this.completion = null;
    this.recallIndex = -1;
    this.resize();
  }

  submit() {
    const text = this.input.value.replace(/\s+$/, '');
    if (!text.trim()) return;
    this.sent.push(text);
    if (this.sent.length > RECALL_LIMIT) this.sent.shift();
    this.recallIndex = -1;
    this.input.value = '';
    this.resize();
    this.onSubmit(text);
  }

  resize() {
    const lines = this.input.value.split('\n').length;
    this.input.rows = Math.min(MAX_ROWS, Math.max(1, lines));
  }

  onKeyDown(event) {
    if (event.isComposing) return;
    if (event.key === 'Enter' && !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      this.submit();
      return;
    }
    if (event.key === 'Tab' && !event.shiftKey && !event.ctrlKey && !event.altKey) {
      if (this.complete()) event.preventDefault();
      return;
    }
    if ((event.key === 'ArrowUp' || event.key === 'ArrowDown') && !event.altKey && !event.ctrlKey && !event.shiftKey) {
      if (this.recall(event.key === 'ArrowUp' ? -1 : 1)) event.preventDefault();
    }
  }

  /** Up on the first line / Down on the last line walks through sent lines. */
  recall(direction) {
    const { value, selectionStart } = this.input;
    const onFirstLine = !value.slice(0, selectionStart).includes('\n');
    const onLastLine = !value.slice(selectionStart).includes('\n');
    if ((direction < 0 && !onFirstLine) || (direction > 0 && !onLastLine)) return false;
    if (this.sent.length === 0) return false;
    if (direction < 0) {
      if (this.recallIndex === -1) {
        if (value) return false; // do not throw away a line being written
        this.recallIndex = this.sent.length - 1;
      } else if (this.recallIndex > 0) {
        this.recallIndex -= 1;
      }
    } else {
      if (this.recallIndex === -1) return false;
      this.recallIndex += 1;
      if (this.recallIndex >= this.sent.length) {
        this.recallIndex = -1;
        this.input.value = '';
        this.resize();
        return true;
      }
    }
    this.input.value = this.sent[this.recallIndex];
    this.resize();
    const end = this.input.value.length;
    this.input.setSelectionRange(end, end);
    return true;
  }

  /** Completes the word before the caret; repeated Tab cycles through the matches. */
  complete() {
    const input = this.input;
    if (this.completion && input.selectionStart === this.completion.end) {
      const completion = this.completion;
      completion.index = (completion.index + 1) % completion.candidates.length;
      this.applyCompletion(completion);
      return true;
    }
    const caret = input.selectionStart;
    const before = input.value.slice(0, caret);
    const start = before.search(/\S*$/);
    const word = before.slice(start);
    if (!word) return false;
    const candidates = this.candidates(word, start === 0);
    if (candidates.length === 0) return false;
    this.completion = { start, end: caret, candidates, index: 0, atLineStart: start === 0 };
    this.applyCompletion(this.completion);
    return true;
  }

  candidates(word, atLineStart) {
    const lower = word.toLowerCase();
    if (word.startsWith('/') && atLineStart) {
      return COMMAND_NAMES.filter((name) => name.startsWith(lower.slice(1))).map((name) => `/${name}`);
    }
    const window = this.state.activeWindow;
    let names;
    if (word.startsWith('#')) {
      names = [...this.state.windows.values()].filter((candidate) => candidate.kind === 'channel').map((candidate) => candidate.name);
    } else {
      names = [...window.members.values()].map((member) => member.nick);
      if (window.kind === 'query') names.push(window.name);
      // People who spoke recently come first: they are the likeliest to be addressed.
      const recent = [];
      for (let i = window.messages.length - 1; i >= 0 && recent.length < 50; i--) {
        const nick = window.messages[i].nick;
        if (nick && !recent.includes(nick)) recent.push(nick);
      }
      names.sort((a, b) => rank(recent, a) - rank(recent, b) || a.localeCompare(b));
    }
    const me = this.state.nick.toLowerCase();
    return [...new Set(names)].filter((name) => name.toLowerCase().startsWith(lower) && name.toLowerCase() !== me);
  }

  applyCompletion(completion) {
    const input = this.input;
    let text = completion.candidates[completion.index];
    const isNick = !text.startsWith('/') && !text.startsWith('#');
    text += completion.atLineStart && isNick ? ': ' : ' ';
    const value = input.value;
    const after = value.slice(completion.end).replace(/^ /, '');
    input.value = value.slice(0, completion.start) + text + after;
    completion.end = completion.start + text.length;
    input.setSelectionRange(completion.end, completion.end);
  }

  focus() {
    this.input.focus();
  }
}

function rank(recent, nick) {
  const index = recent.indexOf(nick);
  return index < 0 ? recent.length : index;
}
