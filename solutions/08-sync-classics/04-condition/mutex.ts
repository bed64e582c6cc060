// Given: the Mutex of Part E's mutex exercise (exercises/05-races/02-mutex), solved. Use it as it is:
// this exercise is about what is built with the lock, not about the lock itself.

/** The two states of the lock's cell. The cell must start at UNLOCKED (0), as new shared memory does. */
const UNLOCKED = 0;
const LOCKED = 1;

/**
 * A mutual-exclusion lock in one Int32 cell of shared memory: every thread that builds a Mutex
 * over the same cell (the same SharedArrayBuffer, sent to it) shares the same lock.
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
    // Check and set in one indivisible step: of all threads that try at once, exactly one sees
    // UNLOCKED and swaps in LOCKED; the others see LOCKED and change nothing.
    return Atomics.compareExchange(this.#cells, this.#index, UNLOCKED, LOCKED) === UNLOCKED;
  }

  /** Takes the lock, sleeping (not spinning) for as long as another thread holds it. */
  lock(): void {
    while (!this.tryLock()) {
      // Sleep until an unlock() notifies this cell, but only if it still reads LOCKED: if the lock
      // was freed since the failed tryLock, wait returns at once ("not-equal") and we try again.
      // After a wake-up another thread may have been quicker, hence the loop.
      Atomics.wait(this.#cells, this.#index, LOCKED);
    }
  }

  /** Releases the lock and wakes one thread waiting for it. Call it only while holding the lock. */
  unlock(): void {
    // An atomic store: the writes made while holding the lock are visible to the next holder.
    Atomics.store(this.#cells, this.#index, UNLOCKED);
    // A thread asleep in Atomics.wait wakes only when notified: without this it would sleep forever.
    Atomics.notify(this.#cells, this.#index, 1);
  }
}
