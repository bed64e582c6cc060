import { parentPort, workerData } from 'node:worker_threads';

// The array arrived by transfer: this thread now owns its memory, and nothing was copied.
const values = workerData as Float64Array;
let sum = 0;
for (const value of values) sum += value;
parentPort!.postMessage(sum);
