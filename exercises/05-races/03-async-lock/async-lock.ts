/** Gives back the lock (or the permit) it came with. Calling it a second time does nothing. */
export type Release = () => void;

/**
 * An async mutex: one holder at a time. A caller that finds it taken waits, without blocking the
 * event loop, until every caller that asked before it has had its turn.
 */
export class Mutex {
  // TODO: the state your lock needs.

  /** Resolves once the caller holds the lock, with the function that releases it. */
  async lock(): Promise<Release> {
    // TODO: take the lock if it is free; otherwise wait your turn, first come, first served.
    throw new Error('Not implemented yet: Mutex.lock() in exercises/05-races/03-async-lock/async-lock.ts (see README.md there)');
  }

  /** Runs `critical` holding the lock; settles as `critical` does; always releases the lock. */
  async runExclusive<T>(critical: () => T | Promise<T>): Promise<T> {
    // TODO: lock, run, and release even when `critical` throws.
    throw new Error('Not implemented yet: Mutex.runExclusive() in exercises/05-races/03-async-lock/async-lock.ts (see README.md there)');
  }
}

/**
 * A counting semaphore: at most `permits` holders at a time; the others wait their turn, first
 * come, first served.
 */
export class Semaphore {
  readonly permits: number;
  // TODO: the rest of the state your semaphore needs.

  constructor(permits: number) {
    this.permits = permits;
  }

  /** Resolves once the caller holds a permit, with the function that gives it back. */
  async acquire(): Promise<Release> {
    // TODO: take a free permit, or wait for one to be handed to you.
    throw new Error('Not implemented yet: Semaphore.acquire() in exercises/05-races/03-async-lock/async-lock.ts (see README.md there)');
  }

  /** Runs `critical` holding a permit; settles as `critical` does; always gives the permit back. */
  async runExclusive<T>(critical: () => T | Promise<T>): Promise<T> {
    // TODO: acquire, run, and release even when `critical` throws.
    throw new Error('Not implemented yet: Semaphore.runExclusive() in exercises/05-races/03-async-lock/async-lock.ts (see README.md there)');
  }
}
