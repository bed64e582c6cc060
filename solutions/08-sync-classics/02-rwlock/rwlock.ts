/** How many Int32 cells of shared memory one RWLock may use, from its `index` on. All start at 0. */
export const RWLOCK_CELLS = 4;

/** The state cell holds the number of readers inside, 0 when nobody is inside, or this: */
const WRITER_INSIDE = -1;

/**
 * A readers-writer lock in shared memory: any number of readers at once, or one writer alone.
 * Writers are not starved: once a writer waits, readers that arrive wait behind it. Every thread
 * that builds an RWLock over the same cells (the same SharedArrayBuffer, sent to it) shares it.
 */
export class RWLock {
  readonly #cells: Int32Array;
  readonly #state: number;
  readonly #writers: number;

  constructor(shared: Int32Array, index = 0) {
    this.#cells = shared;
    // Two of its four cells: the state (readers inside, or WRITER_INSIDE), and the number of
    // writers waiting for the lock or holding it (while it is above 0, no new reader enters).
    this.#state = index;
    this.#writers = index + 1;
  }

  /** Enters as a reader, beside any other readers; sleeps while a writer holds the lock or waits for it. */
  readLock(): void {
    for (;;) {
      const writers = Atomics.load(this.#cells, this.#writers);
      if (writers > 0) {
        // Writer preference: a writer is inside or waiting, so step aside. Sleep until the count
        // of writers changes from what we read (if it already has, wait returns at once: no
        // lost wake-up), then look again.
        Atomics.wait(this.#cells, this.#writers, writers);
      } else {
        const state = Atomics.load(this.#cells, this.#state);
        // Count ourselves in with one compareExchange: it adds one only if no other thread changed
        // the state since we read it (another reader arrived or left, or a writer got in), else
        // we look again. A writer inside (-1) can be seen here only in the instant before its
        // count of writers shows: the next turn of the loop sleeps on that.
        if (state >= 0 && Atomics.compareExchange(this.#cells, this.#state, state, state + 1) === state) return;
      }
    }
  }

  /** Leaves as a reader; the last reader out wakes a writer waiting for the lock. */
  readUnlock(): void {
    // One atomic step: two readers leaving at once each take one off. Atomics.sub returns the
    // count before, so exactly one thread sees 1 (it was the last) and wakes a waiting writer.
    // Only writers sleep on the state cell, so waking one is enough: it gets in.
    if (Atomics.sub(this.#cells, this.#state, 1) === 1) Atomics.notify(this.#cells, this.#state, 1);
  }

  /** Enters as the only thread inside; sleeps while readers or another writer are inside. */
  writeLock(): void {
    // Announce the writer before anything else: from here on, new readers wait behind it.
    Atomics.add(this.#cells, this.#writers, 1);
    for (;;) {
      // Nobody inside (0) becomes "writer inside" in one step, or not at all.
      const state = Atomics.compareExchange(this.#cells, this.#state, 0, WRITER_INSIDE);
      if (state === 0) return;
      // Readers (state > 0) or a writer (-1) are inside: sleep until the last of them wakes us.
      Atomics.wait(this.#cells, this.#state, state);
    }
  }

  /** Leaves as the writer, and wakes the threads waiting for the lock: the waiting readers all get in together. */
  writeUnlock(): void {
    Atomics.store(this.#cells, this.#state, 0);
    // A writer asleep on the state cell, waiting for its turn: wake one, it gets in next.
    Atomics.notify(this.#cells, this.#state, 1);
    // Readers sleep on the count of writers. Once no writer is left inside or waiting, wake them all: every
    // one of them may enter at once. (While another writer waits, they keep sleeping.)
    if (Atomics.sub(this.#cells, this.#writers, 1) === 1) Atomics.notify(this.#cells, this.#writers);
  }
}
