/** How a wait ended, in the words `Atomics.wait` and `Atomics.waitAsync` use. */
export type WaitResult = 'ok' | 'not-equal' | 'timed-out';

/**
 * Waits for a notify on cell `index` of `cells` (an Int32Array over a SharedArrayBuffer), without
 * blocking this thread's event loop: it must keep turning while the wait is pending.
 * Resolves 'not-equal' at once if the cell does not hold `expected`; otherwise 'ok' when another
 * thread calls `Atomics.notify` on that cell (woken: the value may or may not have changed), or
 * 'timed-out' once `timeoutMs` have passed (no `timeoutMs`: it waits as long as it takes).
 * Always a promise; nothing of it is left behind once it has settled.
 */
export function waitForNotify(cells: Int32Array, index: number, expected: number, timeoutMs = Infinity): Promise<WaitResult> {
  // Atomics.waitAsync compares the cell with `expected` and, if they are equal, puts a waiter on
  // the cell's list, in one step, as Atomics.wait does; but instead of putting the thread to sleep
  // it returns at once. The thread goes on turning its event loop; a notify from any thread, or
  // the timeout (kept by the engine: no timer of ours to clear), resolves the promise. A waiter
  // that timed out is taken off the list, so nothing is left behind either way.
  const wait = Atomics.waitAsync(cells, index, expected, timeoutMs);
  // { async: false } when the answer is known at once: 'not-equal', or 'timed-out' for a timeout
  // of 0. Then `value` is the string itself, not a promise: wrap it, so callers always get one.
  return wait.async ? wait.value : Promise.resolve(wait.value);
}

/**
 * Waits, without blocking the event loop, until the value of cell `index` satisfies `predicate`,
 * and resolves with that value; or resolves 'timed-out' once `timeoutMs` have passed since the
 * call, however many wake-ups came in between. Checks at once, then after every wake-up.
 */
export async function waitUntil(cells: Int32Array, index: number, predicate: (value: number) => boolean, timeoutMs = Infinity): Promise<number | 'timed-out'> {
  // One deadline for the whole call: each wait gets only what is left of it, so wake-ups that do
  // not satisfy the predicate cannot stretch the time out.
  const deadline = performance.now() + timeoutMs;
  // `while`, not `if`: a wake-up says only that somebody notified the cell. The value may not
  // satisfy the predicate (or may not have changed at all), so check again every time.
  for (;;) {
    const value = Atomics.load(cells, index);
    if (predicate(value)) return value;
    const left = deadline - performance.now();
    if (left <= 0) return 'timed-out';
    // Wait with the value just checked, never a value read again: if the cell changed after the
    // check (and its notify came before this wait began), the wait answers 'not-equal' at once and
    // the loop checks the new value. A value read again would hide that change, and the wait would
    // sleep through it: a lost wake-up.
    await waitForNotify(cells, index, value, left);
  }
}
