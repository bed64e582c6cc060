import type { Mutex } from './mutex.ts';

/**
 * A condition variable in one Int32 cell of shared memory: threads wait in it, holding a mutex,
 * for a change another thread makes under that mutex, and that thread wakes them with notify()
 * or notifyAll(). Every thread that builds a Condition over the same cell shares it. The cell
 * starts at 0, as new shared memory does; use no other cell.
 */
export class Condition {
  readonly #cells: Int32Array;
  readonly #index: number;

  constructor(shared: Int32Array, index = 0) {
    this.#cells = shared;
    this.#index = index;
  }

  /**
   * Call it holding `mutex`. Lets go of the mutex, sleeps until another thread calls notify() or
   * notifyAll(), and takes the mutex again before it returns. A notify() that comes after the
   * call began is never missed.
   */
  wait(mutex: Mutex): void {
    // TODO: let go of the mutex, sleep until notified (without missing a notify that comes just after the unlock), take the mutex again.
    throw new Error('Not implemented yet: Condition.wait() in exercises/08-sync-classics/04-condition/condition.ts (see README.md there)');
  }

  /** Wakes one thread waiting in wait(), if any. */
  notify(): void {
    // TODO: change the cell the waiters sleep on, then wake one of them.
    throw new Error('Not implemented yet: Condition.notify() in exercises/08-sync-classics/04-condition/condition.ts (see README.md there)');
  }

  /** Wakes every thread waiting in wait(). */
  notifyAll(): void {
    // TODO: the same as notify(), waking them all.
    throw new Error('Not implemented yet: Condition.notifyAll() in exercises/08-sync-classics/04-condition/condition.ts (see README.md there)');
  }
}
