/**
 * The tests' own shared memory, apart from the memory under test: what the harness workers saw,
 * counted as they go, and the gates with which the test (or one worker) holds another still.
 * One `control` per test, shared by all of its workers.
 */
export const CELLS = {
  /** Watched threads asleep in Atomics.wait right now. */
  parked: 0,
  /** Atomics calls the watched threads have made. */
  calls: 1,
  /** Atomics.wait calls of the watched threads that have returned, and those that returned 'timed-out' (nobody woke them). */
  wakes: 2,
  timedOut: 3,
  /** A watched thread's last Atomics.wait: on which cell of the memory (-1: another array; NEVER_WAITED: none yet), expecting which value. */
  lastWaitCell: 4,
  lastWaitValue: 5,
  /** The value the cell held when that Atomics.wait was called. */
  lastWaitFound: 6,
  /** Calls of wait(), put() or take() that have returned, in every worker of the test. */
  returned: 7,
  /** The test's gate: a held worker goes on once it is 1. */
  go: 8,
  /** Waiter: 1 once its wait() has let go of the mutex. */
  released: 9,
  /** Waiter: Atomics calls reading the condition's cell after wait() had let go of the mutex (before it slept). */
  readAfterRelease: 10,
  /** A watched thread went to sleep on another cell than the mutex's while the mutex's cell said taken. */
  sleptHolding: 11,
  /**
   * Notifier: its Atomics.notify calls on the condition's cell (or, for put(), on any cell but the
   * mutex's), and how many came before the state had changed (the condition's cell; for put(),
   * TAIL, with the mutex free).
   */
  notifies: 12,
  notifiesBeforeChange: 13,
  /** Notifier: the largest count it asked Atomics.notify to wake on the condition's cell (-1: all), and how many threads its calls woke. */
  askedToWake: 14,
  woken: 15,
  /** Notifier: its Atomics.notify calls on cells other than the condition's and the mutex's. */
  notifiesElsewhere: 16,
  /** Notifier: 1 once its first watched Atomics.notify has returned; 1 once notify() (or put()) has returned. */
  notifyDone: 17,
  notifierReturned: 18,
  /** Waiter (held before its sleep): 1 once it has reached its Atomics.wait on the condition's cell. */
  aboutToSleep: 19,
  /** Thief: 1 once it has taken the value (or filled the room) in the woken thread's place; the value. */
  stolen: 20,
  stolenValue: 21,
  /** Consumers: values that no producer put; values that came before a value put earlier by the same producer. */
  garbage: 22,
  outOfOrder: 23,
  /** Values the producers have put, all together. */
  produced: 24,
  /** Atomics.notify calls, by cell of the memory under test (cells 0 to NOTIFY_CELLS - 1), of the workers asked to count them. */
  notifyAt: 25,
} as const;
export const NOTIFY_CELLS = 8;
/** Atomics.notify calls of the counting workers on any other array, or a cell past NOTIFY_CELLS. */
export const NOTIFY_ELSEWHERE = CELLS.notifyAt + NOTIFY_CELLS;
/** lastWaitCell of a thread that has not called Atomics.wait. */
export const NEVER_WAITED = -2;

export function createControl(): Int32Array {
  const control = new Int32Array(new SharedArrayBuffer((NOTIFY_ELSEWHERE + 1) * Int32Array.BYTES_PER_ELEMENT));
  control[CELLS.lastWaitCell] = NEVER_WAITED;
  return control;
}

/** What producer p puts as its i-th value (i from 1): the producer and the order can be read back from it. */
export const PER_PRODUCER_BASE = 1_000_000;
export const produced = (producer: number, i: number) => producer * PER_PRODUCER_BASE + i;
/** What the test's thief puts into the room it takes from a woken put(). */
export const STOLEN_ROOM = 99;
