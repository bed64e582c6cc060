import { parentPort, workerData } from 'node:worker_threads';

// Runs inside a worker thread: sum the Float64Array the main thread handed over.
// TODO: add up the values and post the sum back.
throw new Error('Not implemented yet: the worker in exercises/02-threads/02-parallel/sum.worker.ts (see README.md there)');
