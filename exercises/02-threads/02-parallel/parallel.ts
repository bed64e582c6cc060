import { Worker } from 'node:worker_threads';

/** Counts the primes in [from, to), split into `threads` ranges counted at the same time on as many worker threads. */
export async function countPrimesParallel(from: number, to: number, threads: number): Promise<number> {
  // TODO: split [from, to) into `threads` parts, count each part in its own worker
  // (primes.worker.ts), all at the same time, and add up the counts.
  throw new Error('Not implemented yet: countPrimesParallel() in exercises/02-threads/02-parallel/parallel.ts (see README.md there)');
}

/**
 * Sums `values` on a worker thread. The array's memory is moved to the worker, not copied: once
 * this has been called, `values` is empty (its buffer detached) on this side.
 */
export function sumInWorker(values: Float64Array): Promise<number> {
  // TODO: start sum.worker.ts with the array, handing over its buffer in a transfer list.
  throw new Error('Not implemented yet: sumInWorker() in exercises/02-threads/02-parallel/parallel.ts (see README.md there)');
}
