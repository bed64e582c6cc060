import { parentPort, workerData } from 'node:worker_threads';
import { runRequest } from './context.ts';
import { report } from './report.ts';

// This thread loaded its own copy of context.ts, with its own storage: empty until the id that
// came in workerData is made current here.
const { task, requestId } = workerData as { task: string; requestId: string | undefined };
const made = requestId === undefined ? report(task) : await runRequest(requestId, async () => report(task));

// Post once and return: with nothing left to do, the worker exits by itself.
parentPort!.postMessage(made);
