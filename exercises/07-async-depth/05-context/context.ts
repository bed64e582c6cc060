import type { Report } from './report.ts';

/**
 * Runs `work` as request `id`: in every part of it, however many awaits, timers and callbacks
 * later, currentRequestId() returns `id`. Resolves or rejects as `work` does.
 */
export function runRequest<T>(id: string, work: () => Promise<T>): Promise<T> {
  // TODO: give work a context of its own that holds `id` (an AsyncLocalStorage, at module level).
  throw new Error('Not implemented yet: runRequest() in exercises/07-async-depth/05-context/context.ts (see README.md there)');
}

/** The id of the request whose code is running now; undefined outside any request. */
export function currentRequestId(): string | undefined {
  // TODO: read it from the storage runRequest uses.
  throw new Error('Not implemented yet: currentRequestId() in exercises/07-async-depth/05-context/context.ts (see README.md there)');
}

/** `fn`, bound to the request that calls bindToRequest: it runs as that request, whoever calls it later. */
export function bindToRequest<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  // TODO: keep the context of this moment, and run fn in it on every call.
  throw new Error('Not implemented yet: bindToRequest() in exercises/07-async-depth/05-context/context.ts (see README.md there)');
}

/**
 * Runs report(task) on a worker thread (context.worker.ts), as the request that called this;
 * resolves with the report once the worker has exited.
 */
export function reportOnWorker(task: string): Promise<Report> {
  // TODO: start new Worker(new URL('./context.worker.ts', import.meta.url)) with the task and the
  // current request id in its workerData, and settle once it has exited.
  throw new Error('Not implemented yet: reportOnWorker() in exercises/07-async-depth/05-context/context.ts (see README.md there)');
}
