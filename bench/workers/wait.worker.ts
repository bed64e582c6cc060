// One wait on a thread of its own, the way a learner who reaches for threads for I/O would do it.
import { parentPort, workerData } from 'node:worker_threads';
import { waitFor, type Wait } from './wait.ts';

parentPort!.postMessage(await waitFor(workerData as Wait));
