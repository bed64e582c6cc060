/** How many Int32 cells of shared memory one RWLock may use, from its `index` on. All start at 0. */
export const RWLOCK_CELLS = 4;

/** What this lock keeps in its cells (it uses two of the four), relative to `index`. */
const STATE = 0; // readers inside (1, 2, ...), or WRITER_INSIDE, or 0: nobody inside
const WRITERS = 1; // writers waiting for the lock or holding it: while > 0, no new reader enters
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
    this.#state = index + STATE;
    this.#writers = index + WRITERS;
  }

  /** Enters as a reader, beside any other readers; sleeps while a writer holds the lock or waits for it. */
  readLock(): void {
    for (;;) {
      const writers = Atomics.load(this.#cells, this.#writers);
      if (writers > 0) {
        // Writer preference: a writer is inside or waiting, so step aside. Sleep until WRITERS
        // changes from what we read (if it already has, wait returns at once: no lost wake-up).
        Atomics.wait(this.#cells, this.#writers, writers);
        continue;
      }
      const state = Atomics.load(this.#cells, this.#state);
      // Count ourselves in with one compareExchange: it adds one only if no other thread changed
      // the state since we read it (another reader arrived or left, or a writer got in), else retry.
      // A writer inside (state -1) can only be seen here for the instant before its WRITERS count
      // shows: the next turn of the loop sleeps on WRITERS.
      if (state >= 0 && Atomics.compareExchange(this.#cells, this.#state, state, state + 1) === state) return;
    }
  }

  /** Leaves as a reader; the last reader out wakes a writer waiting for the lock. */
  readUnlock(): void {
    // One atomic step: two readers leaving at once each take one off. Atomics.sub returns the
    // count before, so exactly one thread sees 1 (it was the last) and wakes a waiting writer.
    // Only writers sleep on STATE, so waking one is enough: it gets in.
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
    // A writer asleep on STATE, waiting for its turn: wake one, it gets in next.
    Atomics.notify(this.#cells, this.#state, 1);
    // Readers sleep on WRITERS. Once no writer is left inside or waiting, wake them all: every
    // one of them may enter at once. (While another writer waits, they keep sleeping.)
    if (Atomics.sub(this.#cells, this.#writers, 1) === 1) Atomics.notify(this.#cells, this.#writers);
  }
}
