import { syncBuiltinESMExports } from 'node:module';
import workerThreads, { type Worker } from 'node:worker_threads';

/** What `watchingNewWorkers` tells: each worker made, and the moments one is being made. */
export interface NewWorkerWatch {
  /** Each worker, once made, with the arguments it was made with (its script, workerData, transferList). */
  created(worker: Worker, args: ConstructorParameters<typeof Worker>): void;
  /** True while a Worker is being constructed (Node posts messages of its own then), false after. */
  constructing?(now: boolean): void;
}

/**
 * Runs `work` with `new Worker` of 'node:worker_threads' watched, to see what the code under test
 * hands each worker it makes. The module's export is replaced by a subclass and synced into its
 * named exports, so `import { Worker } from 'node:worker_threads'` in the learner's file makes one
 * too; the original is back when `work` settles. The tests start no worker of their own meanwhile.
 */
export async function watchingNewWorkers<T>(watch: NewWorkerWatch, work: () => Promise<T>): Promise<T> {
  const Original = workerThreads.Worker;
  workerThreads.Worker = class extends Original {
    constructor(...args: ConstructorParameters<typeof Original>) {
      watch.constructing?.(true);
      try {
        super(...args);
      } finally {
        watch.constructing?.(false);
      }
      watch.created(this, args);
    }
  };
  syncBuiltinESMExports();
  try {
    return await work();
  } finally {
    workerThreads.Worker = Original;
    syncBuiltinESMExports();
  }
}
