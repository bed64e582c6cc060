/** Gives back the lock (or the permit) it came with. Calling it a second time does nothing. */
export type Release = () => void;

/**
 * An async mutex: one holder at a time. A caller that finds it taken waits, without blocking the
 * event loop, until every caller that asked before it has had its turn.
 */
export class Mutex {
  // Settles when the most recent caller releases. Each caller waits for the one before it, so
  // the callers form a queue in the order they called lock().
  #last: Promise<void> = Promise.resolve();

  /** Resolves once the caller holds the lock, with the function that releases it. */
  async lock(): Promise<Release> {
    const previous = this.#last;
    let release!: Release;
    // Take the next place in line before the first await: no other caller can slip in between
    // the check and the claim, because there is no separate check.
    this.#last = new Promise<void>((resolve) => (release = () => resolve()));
    await previous;
    // Resolving a promise twice does nothing, so a second call to release is harmless.
    return release;
  }

  /** Runs `critical` holding the lock; settles as `critical` does; always releases the lock. */
  async runExclusive<T>(critical: () => T | Promise<T>): Promise<T> {
    const release = await this.lock();
    try {
      return await critical();
    } finally {
      // Also when `critical` throws: a lock that is never released stops every later caller.
      release();
    }
  }
}

/**
 * A counting semaphore: at most `permits` holders at a time; the others wait their turn, first
 * come, first served.
 */
export class Semaphore {
  readonly permits: number;
  #free: number;
  /** Wake-up calls of the callers waiting for a permit, oldest first. */
  readonly #waiting: Array<() => void> = [];

  constructor(permits: number) {
    if (!Number.isInteger(permits) || permits < 1) throw new RangeError(`a Semaphore needs at least 1 permit, got ${permits}`);
    this.permits = permits;
    this.#free = permits;
  }

  /** Resolves once the caller holds a permit, with the function that gives it back. */
  async acquire(): Promise<Release> {
    // Check and take in one synchronous step: nothing else runs between them.
    if (this.#free > 0) this.#free -= 1;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const oldest = this.#waiting.shift();
      // Hand the permit straight to the oldest waiter instead of putting it back: a caller that
      // arrives before the waiter wakes up finds no free permit and queues behind it.
      if (oldest) oldest();
      else this.#free += 1;
    };
  }

  /** Runs `critical` holding a permit; settles as `critical` does; always gives the permit back. */
  async runExclusive<T>(critical: () => T | Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await critical();
    } finally {
      release();
    }
  }
}
