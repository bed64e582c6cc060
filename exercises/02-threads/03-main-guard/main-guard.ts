// One file, two roles. `node main-guard.ts` runs it as the program, on the main thread; the
// program then starts this same file again in worker threads (new Worker(new URL(import.meta.url))).
// Read README.md before you start: where you put each piece of code here matters.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { countPrimesBetween } from './primes.ts';

/** The job, read from the environment. Worker threads inherit the environment: they read the same. */
function settings(): { from: number; to: number; threads: number } {
  return {
    from: Number(process.env.PRIMES_FROM ?? 1_000_000),
    to: Number(process.env.PRIMES_TO ?? 1_100_000),
    threads: Number(process.env.PRIMES_THREADS ?? 4),
  };
}

// TODO: as the program, split [from, to) into `threads` parts { from, to } of about the same size,
// start one worker per part running this file, and print the total count (just the number) with
// console.log.
// TODO: as a worker, count your part (workerData) with countPrimesBetween and post the count back.
throw new Error('Not implemented yet: the program in exercises/02-threads/03-main-guard/main-guard.ts (see README.md there)');
