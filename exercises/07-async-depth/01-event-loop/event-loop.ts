/**
 * Returns `add(item)`: the items added in one synchronous stretch of code are handed to `flush`
 * together, right after the current operation, before the event loop runs any timer or
 * immediate. Later items (added on a later turn, or by `flush` itself) make a new batch.
 */
export function createBatcher<T>(flush: (items: T[]) => void): (item: T) => void {
  // TODO: collect the items; the first add of a batch queues one flush, to run right after the
  // current operation, and that flush hands over the batch and starts a new one.
  throw new Error('Not implemented yet: createBatcher() in exercises/07-async-depth/01-event-loop/event-loop.ts (see README.md there)');
}

/**
 * Calls `step` once per turn of the event loop, letting timers and I/O run between two calls,
 * until it returns true; resolves with how many times `step` ran, or rejects with what it threw.
 */
export function everyTurn(step: () => boolean): Promise<number> {
  // TODO: wait for the next turn of the loop, call step, and go on until it returns true.
  throw new Error('Not implemented yet: everyTurn() in exercises/07-async-depth/01-event-loop/event-loop.ts (see README.md there)');
}
