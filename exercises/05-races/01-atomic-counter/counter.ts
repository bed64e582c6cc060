import { Worker } from 'node:worker_threads';

/** A counter of `slots` Int32 cells, all 0, in memory that every worker it is sent to shares. */
export function createCounter(slots = 1): Int32Array {
  // TODO: an Int32Array of `slots` cells over memory that workers share instead of copying.
  throw new Error('Not implemented yet: createCounter() in exercises/05-races/01-atomic-counter/counter.ts (see README.md there)');
}

/** Adds 1 to `counter[index]`, `times` times; correct while other threads do the same to the same cell. */
export function increment(counter: Int32Array, index: number, times: number): void {
  // TODO: add 1, `times` times, so that no other thread's increment can be lost in between.
  throw new Error('Not implemented yet: increment() in exercises/05-races/01-atomic-counter/counter.ts (see README.md there)');
}

/**
 * Starts `threads` workers that each add 1 to one shared counter `times` times, and resolves with
 * the counter once every worker has exited.
 */
export async function countInWorkers(threads: number, times: number): Promise<number> {
  // TODO: create the counter, start `threads` workers of counter.worker.ts with { counter, times }
  // as their workerData, wait until every one has exited, then read the total.
  throw new Error('Not implemented yet: countInWorkers() in exercises/05-races/01-atomic-counter/counter.ts (see README.md there)');
}
