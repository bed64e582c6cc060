import type { Job, Report } from './task.worker.ts';

export type { Job, Report } from './task.worker.ts';

export interface PoolOptions {
  /** How many worker threads the pool runs. It starts them once and keeps them for every task. */
  threads: number;
  /** How many tasks may wait for a free thread. One more is refused with an error. Unbounded if left out. */
  maxQueue?: number;
}

export interface SquaresPool {
  /**
   * Runs `job` on one of the pool's threads (the default export of task.worker.ts) and resolves
   * with its report. If `signal` aborts first, rejects with an AbortError and the task stops.
   */
  run(job: Job, options?: { signal?: AbortSignal }): Promise<Report>;
  /** Stops every thread of the pool; resolves once all of them have exited. */
  close(): Promise<void>;
}

/** A pool of worker threads, built on piscina, that runs task.worker.ts. */
export function createPool(options: PoolOptions): SquaresPool {
  // TODO: create one Piscina for task.worker.ts, sized and bounded by `options`, and use it in run() and close().
  throw new Error('Not implemented yet: createPool() in exercises/04-pools/01-piscina/piscina.ts (see README.md there)');
}
