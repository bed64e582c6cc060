/** How many Int32 cells of shared memory one RWLock may use, from its `index` on. All start at 0. */
export const RWLOCK_CELLS = 4;

/**
 * A readers-writer lock in shared memory: any number of readers at once, or one writer alone.
 * Writers are not starved: once a writer waits, readers that arrive wait behind it. Every thread
 * that builds an RWLock over the same cells (the same SharedArrayBuffer, sent to it) shares it.
 * Its cells are `shared[index]` to `shared[index + RWLOCK_CELLS - 1]`, all 0 at first; what each
 * one means is up to you (use as many as you need).
 */
export class RWLock {
  readonly #cells: Int32Array;
  readonly #index: number;

  constructor(shared: Int32Array, index = 0) {
    this.#cells = shared;
    this.#index = index;
  }

  /** Enters as a reader, beside any other readers; sleeps while a writer holds the lock or waits for it. */
  readLock(): void {
    // TODO: while a writer is inside or waiting, sleep; then count yourself in, as one step.
    throw new Error('Not implemented yet: RWLock.readLock() in exercises/08-sync-classics/02-rwlock/rwlock.ts (see README.md there)');
  }

  /** Leaves as a reader; the last reader out wakes a writer waiting for the lock. */
  readUnlock(): void {
    // TODO: count yourself out, as one step; if you were the last reader, wake a waiting writer.
    throw new Error('Not implemented yet: RWLock.readUnlock() in exercises/08-sync-classics/02-rwlock/rwlock.ts (see README.md there)');
  }

  /** Enters as the only thread inside; sleeps while readers or another writer are inside. */
  writeLock(): void {
    // TODO: from now on, readers that arrive must wait; sleep until nobody is inside, then enter alone.
    throw new Error('Not implemented yet: RWLock.writeLock() in exercises/08-sync-classics/02-rwlock/rwlock.ts (see README.md there)');
  }

  /** Leaves as the writer, and wakes the threads waiting for the lock: the waiting readers all get in together. */
  writeUnlock(): void {
    // TODO: mark the lock free, then wake whoever waits for it.
    throw new Error('Not implemented yet: RWLock.writeUnlock() in exercises/08-sync-classics/02-rwlock/rwlock.ts (see README.md there)');
  }
}
