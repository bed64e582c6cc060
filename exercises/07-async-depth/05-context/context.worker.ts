// This file runs inside the worker thread that reportOnWorker starts.
// TODO: read the task and the request id from workerData, call report(task) (from ./report.ts) as
// that request, and post the report to the main thread through parentPort.
throw new Error('Not implemented yet: the worker in exercises/07-async-depth/05-context/context.worker.ts (see README.md there)');
