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
  return new Promise((resolve, reject) => {
    const worker = new Worker(script, { workerData: input });
    let outcome: { value: T } | { error: unknown } | undefined;

    worker.once('message', (value: T) => {
      outcome ??= { value };
      // We have the answer. A worker that still holds a port open would run forever: stop it.
      // A worker stopped by terminate() exits with code 1 (one that ended by itself a moment
      // before keeps its 0); with the answer in hand, the code no longer matters.
      void worker.terminate();
    });
    // Without this listener a throw inside the worker becomes an uncaught exception here.
    worker.once('error', (error) => {
      outcome ??= { error };
    });
    // 'exit' always comes last (after 'message' or 'error'), so settling here means the worker
    // is gone by the time the caller hears back, and a silent exit is never missed.
    worker.once('exit', (code) => {
      if (outcome === undefined) reject(new Error(`The worker ${script.pathname} exited with code ${code} without posting a result`));
      else if ('value' in outcome) resolve(outcome.value);
      else reject(outcome.error);
    });
  });
}

/** Counts the primes in [from, to) on a worker thread. */
export function countPrimesInWorker(from: number, to: number): Promise<PrimeCount> {
  return runWorker<PrimeCount>(new URL('./primes.worker.ts', import.meta.url), { from, to });
}
