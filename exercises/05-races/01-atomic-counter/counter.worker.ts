import { workerData } from 'node:worker_threads';
import { increment } from './counter.ts';

// One of countInWorkers' threads: it adds to the counter it was given, then ends by itself (exit code 0).
const { counter, times } = workerData as { counter: Int32Array; times: number };
increment(counter, 0, times);
