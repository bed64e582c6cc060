// One file, two roles. `node main-guard.ts` runs it as the program, on the main thread; the
// program then starts this same file again in worker threads. Every thread that loads the file
// runs all of its top-level code, so the code that starts workers must be guarded: without the
// isMainThread check, each worker would start workers of its own, without end.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { countPrimesBetween } from './primes.ts';

interface Part {
  from: number;
  to: number;
}

/** The job, read from the environment. Worker threads inherit the environment: they read the same. */
function settings(): { from: number; to: number; threads: number } {
  return {
    from: Number(process.env.PRIMES_FROM ?? 1_000_000),
    to: Number(process.env.PRIMES_TO ?? 1_100_000),
    threads: Number(process.env.PRIMES_THREADS ?? 4),
  };
}

/** Counts one part in a worker thread that runs this very file. */
function countInWorker(part: Part): Promise<number> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: part });
    let count: number | undefined;
    worker.once('message', (value: number) => (count = value));
    worker.once('error', reject);
    worker.once('exit', (code) => (count === undefined ? reject(new Error(`A worker exited with code ${code} before posting its count`)) : resolve(count)));
  });
}

if (isMainThread) {
  // The program: split the range, one worker per part, print the total.
  const { from, to, threads } = settings();
  const size = Math.ceil((to - from) / threads);
  const parts = Array.from({ length: threads }, (_, index) => {
    const start = Math.min(to, from + index * size);
    return { from: start, to: Math.min(to, start + size) };
  });
  const counts = await Promise.all(parts.map(countInWorker));
  console.log(counts.reduce((total, count) => total + count, 0));
} else {
  // A worker: isMainThread is false here, so the branch above, which starts workers, is skipped.
  // It posts its count and has nothing left to do, so it ends by itself, with exit code 0 (no
  // terminate() from the program, which would make the code 1).
  const { from, to } = workerData as Part;
  parentPort!.postMessage(countPrimesBetween(from, to));
}
