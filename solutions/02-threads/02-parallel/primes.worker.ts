import { parentPort, workerData } from 'node:worker_threads';
import { countPrimesBetween } from './primes.ts';

// Each worker counts its own range; the main thread adds the counts up.
const { from, to } = workerData as { from: number; to: number };
parentPort!.postMessage(countPrimesBetween(from, to));
