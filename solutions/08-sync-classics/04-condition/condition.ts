import type { Mutex } from './mutex.ts';

/**
 * A condition variable in one Int32 cell of shared memory: threads wait in it, holding a mutex,
 * for a change another thread makes under that mutex, and that thread wakes them with notify()
 * or notifyAll(). Every thread that builds a Condition over the same cell shares it. The cell
 * starts at 0, as new shared memory does.
 *
 * The cell is a sequence number: every notify adds one. A waiter reads it while it still holds
 * the mutex and sleeps only while it is unchanged, so a notify that comes after that read,
 * however soon, is never missed.
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
   * notifyAll(), and takes the mutex again before it returns. The caller checks its condition
   * again when wait() returns, in a `while` loop: another thread may have got there first.
   */
  wait(mutex: Mutex): void {
    // Read the sequence while still holding the mutex: no notify can slip in before this read,
    // because the thread that notifies changes the state under the same mutex first.
    const seen = Atomics.load(this.#cells, this.#index);
    // Let go of the mutex, or the thread that would change the state and notify could never get in.
    mutex.unlock();
    // Sleeps only if the sequence is still what we read: a notify that came between unlock() and
    // here has changed it, and Atomics.wait returns at once ("not-equal") instead of sleeping.
    Atomics.wait(this.#cells, this.#index, seen);
    // The caller checks the state and changes it: that needs the mutex again.
    mutex.lock();
  }

  /** Wakes one thread waiting in wait(), if any. */
  notify(): void {
    // Change the cell first, then wake: a waiter just about to sleep on the old value finds it
    // changed and does not sleep; one already asleep is woken.
    Atomics.add(this.#cells, this.#index, 1);
    Atomics.notify(this.#cells, this.#index, 1);
  }

  /** Wakes every thread waiting in wait(). */
  notifyAll(): void {
    Atomics.add(this.#cells, this.#index, 1);
    Atomics.notify(this.#cells, this.#index);
  }
}
