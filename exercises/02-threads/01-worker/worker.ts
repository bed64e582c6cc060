import { Worker } from 'node:worker_threads';

/** What primes.worker.ts posts back: the count, and the id of the thread that computed it. */
export interface PrimeCount {
  count: number;
  threadId: number;
}

/**
 * Runs `script` in a new worker thread, with `input` as its `workerData`, and resolves with the
 * first message the worker posts. Rejects with the worker's own error if it throws, and with an
 * error naming the exit code if it exits without posting anything. When the promise settles, the
 * worker has exited.
 */
export function runWorker<T>(script: URL, input?: unknown): Promise<T> {
  // TODO: start `new Worker(script, { workerData: input })` and settle on its events.
  throw new Error('Not implemented yet: runWorker() in exercises/02-threads/01-worker/worker.ts (see README.md there)');
}

/** Counts the primes in [from, to) on a worker thread. */
export function countPrimesInWorker(from: number, to: number): Promise<PrimeCount> {
  // TODO: run primes.worker.ts (new URL('./primes.worker.ts', import.meta.url)) with runWorker.
  throw new Error('Not implemented yet: countPrimesInWorker() in exercises/02-threads/01-worker/worker.ts (see README.md there)');
}
