// Start-up, round trips and idle memory of a worker thread: it says "ready" the moment its code
// runs (that is where start-up ends), then sends every message straight back.
import { parentPort } from 'node:worker_threads';

parentPort!.postMessage('ready');
parentPort!.on('message', (message: unknown) => parentPort!.postMessage(message));
