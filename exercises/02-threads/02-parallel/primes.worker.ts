import { parentPort, workerData } from 'node:worker_threads';
import { countPrimesBetween } from './primes.ts';

// Runs inside a worker thread: count the primes of one part of the range.
// TODO: read the part from workerData, count it with countPrimesBetween, post the count back.
throw new Error('Not implemented yet: the worker in exercises/02-threads/02-parallel/primes.worker.ts (see README.md there)');
