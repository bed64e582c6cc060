import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Returns `add(item)`: the items added in one synchronous stretch of code are handed to `flush`
 * together, right after the current operation, before the event loop runs any timer or
 * immediate. Later items (added on a later turn, or by `flush` itself) make a new batch.
 */
export function createBatcher<T>(flush: (items: T[]) => void): (item: T) => void {
  let batch: T[] = [];
  return (item) => {
    batch.push(item);
    // The first item of a batch queues its flush; the others find it queued.
    if (batch.length > 1) return;
    // A microtask runs once the current code is done, before the loop moves on to any timer,
    // I/O callback or immediate, however long those have waited.
    queueMicrotask(() => {
      // A new array before flush runs: what flush adds goes into the next batch (whose first
      // item queues the next flush), and the array handed over is never touched again.
      const handedOver = batch;
      batch = [];
      flush(handedOver);
    });
  };
}

/**
 * Calls `step` once per turn of the event loop, letting timers and I/O run between two calls,
 * until it returns true; resolves with how many times `step` ran, or rejects with what it threw.
 */
export async function everyTurn(step: () => boolean): Promise<number> {
  for (let calls = 1; ; calls += 1) {
    // An immediate runs in the check phase of the next turn, after the timers and the I/O that
    // were due: the loop has turned. (An await of something already settled would be a
    // microtask, and the loop would never turn.) A throw from step rejects the promise.
    await nextTurn();
    if (step()) return calls;
  }
}
