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
  // TODO: register a wait on the cell that does not put the thread to sleep.
  throw new Error('Not implemented yet: waitForNotify() in exercises/08-sync-classics/05-wait-async/wait-async.ts (see README.md there)');
}

/**
 * Waits, without blocking the event loop, until the value of cell `index` satisfies `predicate`,
 * and resolves with that value; or resolves 'timed-out' once `timeoutMs` have passed since the
 * call, however many wake-ups came in between. Checks at once, then after every wake-up.
 */
export function waitUntil(cells: Int32Array, index: number, predicate: (value: number) => boolean, timeoutMs = Infinity): Promise<number | 'timed-out'> {
  // TODO: check the value; while the predicate refuses it, wait for a notify and check again.
  throw new Error('Not implemented yet: waitUntil() in exercises/08-sync-classics/05-wait-async/wait-async.ts (see README.md there)');
}
