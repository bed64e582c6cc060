// Given: the Mutex of exercise mutex (Part E), solved. Use it as it is; the lesson here is the condition variable.

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
    // Check and set in one indivisible step.
    return Atomics.compareExchange(this.#cells, this.#index, UNLOCKED, LOCKED) === UNLOCKED;
  }

  /** Takes the lock, sleeping (not spinning) for as long as another thread holds it. */
  lock(): void {
    while (!this.tryLock()) {
      // Sleep while the cell still reads LOCKED; after a wake-up, try again: another thread may have been quicker.
      Atomics.wait(this.#cells, this.#index, LOCKED);
    }
  }

  /** Releases the lock and wakes one thread waiting for it. Call it only while holding the lock. */
  unlock(): void {
    Atomics.store(this.#cells, this.#index, UNLOCKED);
    Atomics.notify(this.#cells, this.#index, 1);
  }
}
