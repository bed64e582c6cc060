import { parentPort, threadId, workerData } from 'node:worker_threads';
import { countPrimesBetween } from './primes.ts';

// workerData is a copy of what the main thread passed to `new Worker(..., { workerData })`.
const { from, to } = workerData as { from: number; to: number };

// A throw here (bad input) reaches the main thread as the worker's 'error' event.
const count = countPrimesBetween(from, to);

// Post once and return: with nothing left to do and no port held open, the worker exits by itself.
parentPort!.postMessage({ count, threadId });
