/**
 * A mutual-exclusion lock in one Int32 cell of shared memory: every thread that builds a Mutex
 * over the same cell (the same SharedArrayBuffer, sent to it) shares the same lock.
 * The cell starts at 0, as new shared memory does: let 0 mean "unlocked".
 */
export class Mutex {
  readonly #cells: Int32Array;
  readonly #index: number;

  constructor(shared: Int32Array, index = 0) {
    this.#cells = shared;
    this.#index = index;
  }

  /** Takes the lock if it is free and returns true; returns false at once if another thread holds it. */
  tryLock(): boolean {
    // TODO: check that the cell is free and mark it taken, as one step that no other thread can split.
    throw new Error('Not implemented yet: Mutex.tryLock() in exercises/05-races/02-mutex/mutex.ts (see README.md there)');
  }

  /** Takes the lock, sleeping (not spinning) for as long as another thread holds it. */
  lock(): void {
    // TODO: until you get the lock, sleep while the cell says "taken".
    throw new Error('Not implemented yet: Mutex.lock() in exercises/05-races/02-mutex/mutex.ts (see README.md there)');
  }

  /** Releases the lock and wakes one thread waiting for it. Call it only while holding the lock. */
  unlock(): void {
    // TODO: mark the cell free, then wake a sleeping waiter.
    throw new Error('Not implemented yet: Mutex.unlock() in exercises/05-races/02-mutex/mutex.ts (see README.md there)');
  }
}
