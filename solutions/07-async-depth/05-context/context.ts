import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import { Worker } from 'node:worker_threads';
import type { Report } from './report.ts';

// One storage for every request: what differs is the context each request's code runs in, and
// the value the storage holds in it.
const requests = new AsyncLocalStorage<string>();

/**
 * Runs `work` as request `id`: in every part of it, however many awaits, timers and callbacks
 * later, currentRequestId() returns `id`. Resolves or rejects as `work` does.
 */
export function runRequest<T>(id: string, work: () => Promise<T>): Promise<T> {
  // run() calls work in a new context that holds `id`; every promise, timer and callback work
  // creates remembers it. The caller's context is back as soon as run() returns (enterWith would
  // have changed the caller's own).
  return requests.run(id, work);
}

/** The id of the request whose code is running now; undefined outside any request. */
export function currentRequestId(): string | undefined {
  return requests.getStore();
}

/** `fn`, bound to the request that calls bindToRequest: it runs as that request, whoever calls it later. */
export function bindToRequest<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  // An emitter, a timer or another request calls a function in its own context; bind() captures
  // the context of this moment and restores it around every call.
  return AsyncResource.bind(fn);
}

/**
 * Runs report(task) on a worker thread (context.worker.ts), as the request that called this;
 * resolves with the report once the worker has exited.
 */
export function reportOnWorker(task: string): Promise<Report> {
  // A worker has a storage of its own, empty: the id goes with the task, and the worker makes it
  // current there.
  const worker = new Worker(new URL('./context.worker.ts', import.meta.url), { workerData: { task, requestId: currentRequestId() } });
  return new Promise((resolve, reject) => {
    let reported: Report | undefined;
    let failure: unknown;
    worker.once('message', (message: Report) => (reported = message));
    worker.once('error', (error) => (failure = error));
    // Settle on 'exit' alone: by then the thread is gone, whether it reported, threw or ended early.
    worker.once('exit', (code) => {
      if (failure !== undefined) reject(failure);
      else if (reported !== undefined) resolve(reported);
      else reject(new Error(`The worker exited with code ${code} before it posted a report.`));
    });
  });
}
