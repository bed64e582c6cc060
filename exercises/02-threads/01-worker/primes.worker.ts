import { parentPort, threadId, workerData } from 'node:worker_threads';
import { countPrimesBetween } from './primes.ts';

// This file runs inside the worker thread. workerData is what the main thread passed in.
// TODO: count the primes in [workerData.from, workerData.to) with countPrimesBetween, and post
// `{ count, threadId }` back to the main thread through parentPort.
throw new Error('Not implemented yet: the worker in exercises/02-threads/01-worker/primes.worker.ts (see README.md there)');
