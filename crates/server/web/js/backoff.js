// Reconnect delays: 1 s, doubling up to 30 s, each with jitter so that many
// browsers dropped by one server restart do not all come back in the same
// instant.

export class Backoff {
  constructor({ firstMs, maxMs, jitter = 0.25, random = Math.random }) {
    this.firstMs = firstMs;
    this.maxMs = maxMs;
    /** Each delay is moved by up to ± this fraction of itself. */
    this.jitter = jitter;
    this.random = random;
    this.attempt = 0;
  }

  /** The delay before the next attempt, in milliseconds. */
  next() {
    const base = Math.min(this.maxMs, this.firstMs * 2 ** this.attempt);
    this.attempt += 1;
    const spread = base * this.jitter * (this.random() * 2 - 1);
    return Math.round(Math.min(this.maxMs, Math.max(this.firstMs / 2, base + spread)));
  }

  reset() {
    this.attempt = 0;
  }
}
