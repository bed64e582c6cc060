import { Condition } from './condition.ts';
import { Mutex } from './mutex.ts';

/**
 * The queue's shared memory, an Int32Array:
 *   LOCK       the mutex's cell
 *   NOT_EMPTY  the condition "the queue is not empty" (take() waits in it)
 *   NOT_FULL   the condition "the queue is not full" (put() waits in it)
 *   HEAD       values taken so far
 *   TAIL       values put so far (TAIL - HEAD values are in the queue)
 *   SLOTS...   `capacity` slots: the value at position p is in slot SLOTS + p % capacity
 */
export const LOCK = 0;
export const NOT_EMPTY = 1;
export const NOT_FULL = 2;
export const HEAD = 3;
export const TAIL = 4;
export const SLOTS = 5;

/** Shared memory for a queue of `capacity` values, all cells at 0. Send it to every thread that uses the queue. */
export function createQueue(capacity: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer((SLOTS + capacity) * Int32Array.BYTES_PER_ELEMENT));
}

/** A bounded blocking queue of Int32 values in shared memory; every thread builds its own over the same memory. */
export class BoundedQueue {
  readonly #memory: Int32Array;
  readonly #capacity: number;
  readonly #mutex: Mutex;
  readonly #notEmpty: Condition;
  readonly #notFull: Condition;

  constructor(memory: Int32Array) {
    this.#memory = memory;
    this.#capacity = memory.length - SLOTS;
    this.#mutex = new Mutex(memory, LOCK);
    this.#notEmpty = new Condition(memory, NOT_EMPTY);
    this.#notFull = new Condition(memory, NOT_FULL);
  }

  /** Adds `value` at the back of the queue, waiting (asleep) while the queue is full. */
  put(value: number): void {
    const memory = this.#memory;
    this.#mutex.lock();
    // `while`, not `if`: being woken means "there was room a moment ago". Another producer may have
    // filled it between the notify and the moment this thread had the mutex again.
    while (memory[TAIL]! - memory[HEAD]! === this.#capacity) this.#notFull.wait(this.#mutex);
    // Under the mutex, plain reads and writes are enough: the mutex's Atomics calls order them.
    const tail = memory[TAIL]!;
    memory[SLOTS + (tail % this.#capacity)] = value;
    memory[TAIL] = tail + 1;
    // Only now is there a value to take: wake one taker. (Waking it before the write would let it
    // find the queue still empty and go back to sleep, and nobody would wake it again.)
    this.#notEmpty.notify();
    this.#mutex.unlock();
  }

  /** Removes and returns the value at the front of the queue, waiting (asleep) while the queue is empty. */
  take(): number {
    const memory = this.#memory;
    this.#mutex.lock();
    // `while`, not `if`: another consumer may have taken the value between the notify and now.
    while (memory[TAIL] === memory[HEAD]) this.#notEmpty.wait(this.#mutex);
    const head = memory[HEAD]!;
    const value = memory[SLOTS + (head % this.#capacity)]!;
    memory[HEAD] = head + 1;
    // A slot is free now: wake one producer waiting for room.
    this.#notFull.notify();
    this.#mutex.unlock();
    return value;
  }
}
