// A person on the plain-text protocol, as `nc` would be: a TCP socket,
// lines in, lines out (docs/PROTOCOL.md, "Plain-text protocol"). Received
// lines are kept so that a test can wait for one that matches.

import net from 'node:net';

const DEFAULT_WAIT_MS = 15_000;

export class TextUser {
  static async connect(address) {
    const [host, port] = splitAddress(address);
    const socket = net.connect(port, host);
    await new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new TextUser(socket);
  }

  constructor(socket) {
    this.socket = socket;
    /** Every line received, in order. */
    this.lines = [];
    this.waiters = new Set();
    this.closed = false;
    let partial = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      partial += chunk;
      let end;
      while ((end = partial.indexOf('\n')) >= 0) {
        this.lines.push(partial.slice(0, end));
        partial = partial.slice(end + 1);
      }
      for (const waiter of [...this.waiters]) waiter.check();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
    });
  }

  send(line) {
    this.socket.write(`${line}\n`);
  }

  /** Resolves with the first line (received so far or later) matching `pattern`. */
  waitForLine(pattern, { timeout = DEFAULT_WAIT_MS, from = 0 } = {}) {
    return new Promise((resolve, reject) => {
      const waiter = {
        check: () => {
          const line = this.lines.slice(from).find((candidate) => pattern.test(candidate));
          if (line === undefined) return;
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(line);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`text user saw no line matching ${pattern} in ${timeout} ms; last lines:\n${this.lines.slice(-15).join('\n')}`));
      }, timeout);
      this.waiters.add(waiter);
      waiter.check();
    });
  }

  close() {
    this.socket.destroy();
  }
}

function splitAddress(address) {
  const colon = address.lastIndexOf(':');
  return [address.slice(0, colon).replace(/^\[|\]$/g, ''), Number(address.slice(colon + 1))];
}
