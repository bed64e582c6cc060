import { Worker } from 'node:worker_threads';

/** A counter of `slots` Int32 cells, all 0, in memory that every worker it is sent to shares. */
export function createCounter(slots = 1): Int32Array {
  // A SharedArrayBuffer is shared, not copied, when it is sent to a worker: all threads see the same bytes.
  return new Int32Array(new SharedArrayBuffer(slots * Int32Array.BYTES_PER_ELEMENT));
}

/** Adds 1 to `counter[index]`, `times` times; correct while other threads do the same to the same cell. */
export function increment(counter: Int32Array, index: number, times: number): void {
  for (let done = 0; done < times; done += 1) {
    // Read, add and write back as one indivisible step: no other thread's write can fall in between.
    Atomics.add(counter, index, 1);
  }
}

/**
 * Starts `threads` workers that each add 1 to one shared counter `times` times, and resolves with
 * the counter once every worker has exited.
 */
export async function countInWorkers(threads: number, times: number): Promise<number> {
  const counter = createCounter();
  // The counter travels in workerData: its SharedArrayBuffer arrives as the same memory, not a copy.
  const workers = Array.from({ length: threads }, () => new Worker(new URL('./counter.worker.ts', import.meta.url), { workerData: { counter, times } }));
  const exits = workers.map(
    (worker) =>
      new Promise<void>((resolve, reject) => {
        worker.once('error', reject);
        // A worker that ends by itself, its increments done, exits with code 0; anything else failed.
        worker.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`A counter worker exited with code ${code}`))));
      }),
  );
  try {
    await Promise.all(exits);
  } catch (error) {
    // One worker failed: stop the others rather than leave them running (their exit code is 1 then).
    await Promise.all(workers.map((worker) => worker.terminate()));
    throw error;
  }
  // Every worker has exited, so every increment is in: read the total.
  return Atomics.load(counter, 0);
}
