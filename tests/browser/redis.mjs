// Runs a redis-server for the cluster test, as palaver requires it (an
// append-only file fsync'd on every write), on a Unix socket in a directory of
// its own: started, waited for (it answers PING), and stopped.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const START_TIMEOUT_MS = 10_000;

export class RedisServer {
  /** `dir`: an empty directory for its socket and files. */
  constructor(dir) {
    this.dir = dir;
    this.socket = path.join(dir, 'redis.sock');
    this.child = null;
  }

  /** The URL palaver's `--cluster` takes. */
  get url() {
    return `redis+unix://${this.socket}`;
  }

  async start() {
    fs.mkdirSync(this.dir, { recursive: true });
    this.child = spawn('redis-server', [
      '--port', '0',
      '--unixsocket', this.socket,
      '--unixsocketperm', '700',
      '--dir', this.dir,
      '--appendonly', 'yes',
      '--appendfsync', 'always',
      '--save', '',
      '--loglevel', 'warning',
    ], { stdio: 'ignore' });
    this.exited = new Promise((resolve) => this.child.once('exit', resolve));
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await this.answers())) {
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${this.socket} in time`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Whether it answers PING on its socket. */
  answers() {
    return new Promise((resolve) => {
      const connection = net.connect(this.socket);
      connection.once('error', () => resolve(false));
      connection.once('data', (data) => {
        connection.destroy();
        resolve(data.toString().startsWith('+PONG'));
      });
      connection.once('connect', () => connection.write('PING\r\n'));
    });
  }

  async stop() {
    if (!this.child || this.child.exitCode !== null) return;
    this.child.kill('SIGTERM');
    await this.exited;
  }
}
