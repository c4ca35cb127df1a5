// Runs a palaver server for the browser test: starts `palaver serve` on
// loopback, reads the addresses it prints (`listening web|text|irc ADDR`),
// waits for `ready`, and stops it (SIGTERM, then SIGKILL if it hangs). A
// server can be started again on the same ports with the same database.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 15_000;

export class Palaver {
  /**
   * `bin`: the palaver binary; `db`: the SQLite file ('' for none: a cluster
   * node's store is its Redis); `config`: a configuration file; `webRoot`: serve
   * the client from this folder instead of the copy embedded in the binary;
   * `extraArgs`: more arguments for `serve` (`--cluster URL --node-name NAME`).
   */
  constructor({ bin, db = '', config = '', webRoot = '', extraArgs = [] }) {
    this.bin = bin;
    this.db = db;
    this.extraArgs = extraArgs;
    /** A configuration file (`--config`), or '' for none. */
    this.config = config;
    this.webRoot = webRoot;
    this.child = null;
    /** kind → `host:port`, from the `listening` lines of the first start. */
    this.addresses = {};
    /** The last lines the server wrote to stderr, to explain a failure. */
    this.stderrTail = [];
  }

  get webUrl() {
    return `http://${this.addresses.web}`;
  }

  /** Starts the server; after the first start, on the same addresses. */
  async start() {
    const address = (kind) => this.addresses[kind] ?? '127.0.0.1:0';
    const args = [
      'serve',
      '--web-listen', address('web'),
      '--text-listen', address('text'),
      '--irc-listen', address('irc'),
      '--shutdown-grace', '2s',
    ];
    if (this.db) args.push('--db', this.db);
    if (this.config) args.push('--config', this.config);
    if (this.webRoot) args.push('--web-root', this.webRoot);
    args.push(...this.extraArgs);
    const child = spawn(this.bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    createInterface({ input: child.stderr }).on('line', (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > 40) this.stderrTail.shift();
    });

    const lines = createInterface({ input: child.stdout });
    const found = {};
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error('palaver did not print "ready" in time')), START_TIMEOUT_MS);
      const fail = (error) => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new Error(`${error.message}\n--- palaver stderr ---\n${this.stderrTail.join('\n')}`));
      };
      child.once('error', fail);
      this.exited.then(({ code, signal }) => fail(new Error(`palaver exited before it was ready (${code ?? signal})`)));
      lines.on('line', (line) => {
        const listening = /^listening (\w+) (\S+)$/.exec(line);
        if (listening) found[listening[1]] = listening[2];
        if (line.trim() === 'ready') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    for (const kind of ['web', 'text', 'irc']) {
      if (!found[kind]) throw new Error(`palaver printed no "listening ${kind}" line`);
      this.addresses[kind] = found[kind];
    }
  }

  /** Stops the server gracefully; kills it if it does not exit in time. */
  async stop() {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
    this.child = null;
  }
}
