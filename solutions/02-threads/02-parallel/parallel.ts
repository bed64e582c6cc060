import { Worker } from 'node:worker_threads';

/** Starts `script` with `workerData` (moving the buffers in `transferList`) and resolves with its one message. */
function runWorker<T>(script: URL, workerData: unknown, transferList: ArrayBuffer[] = []): Promise<T> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(script, { workerData, transferList });
    let result: { value: T } | undefined;
    worker.once('message', (value: T) => (result = { value }));
    worker.once('error', reject);
    // The worker posts once and returns, so it ends by itself (exit code 0) and 'exit' follows its
    // message: settle there.
    worker.once('exit', (code) => {
      if (result) resolve(result.value);
      else reject(new Error(`The worker ${script.pathname} exited with code ${code} without posting a result`));
    });
  });
}

/** Counts the primes in [from, to), split into `threads` ranges counted at the same time on as many worker threads. */
export async function countPrimesParallel(from: number, to: number, threads: number): Promise<number> {
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a whole number >= 1, got ${threads}`);
  // Round the part size up, so the last part takes whatever does not divide evenly.
  const size = Math.ceil((to - from) / threads);
  const parts = Array.from({ length: threads }, (_, index) => {
    const start = Math.min(to, from + index * size);
    return { from: start, to: Math.min(to, start + size) };
  });
  // Start every worker before awaiting any: map() creates them all, Promise.all waits for all.
  const counts = await Promise.all(parts.map((part) => runWorker<number>(new URL('./primes.worker.ts', import.meta.url), part)));
  return counts.reduce((total, count) => total + count, 0);
}

/**
 * Sums `values` on a worker thread. The array's memory is moved to the worker, not copied: once
 * this has been called, `values` is empty (its buffer detached) on this side.
 */
export function sumInWorker(values: Float64Array): Promise<number> {
  // Listing the buffer in transferList hands it over: no copy, however large.
  return runWorker<number>(new URL('./sum.worker.ts', import.meta.url), values, [values.buffer as ArrayBuffer]);
}
