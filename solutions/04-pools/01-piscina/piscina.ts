import { Piscina } from 'piscina';
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
export function createPool({ threads, maxQueue }: PoolOptions): SquaresPool {
  // One Piscina for the pool's whole life: its threads start once and serve every task.
  const pool = new Piscina<Job, Report>({
    filename: new URL('./task.worker.ts', import.meta.url).href,
    // min = max: exactly `threads` threads, kept alive between tasks instead of stopped when idle.
    minThreads: threads,
    maxThreads: threads,
    // Piscina refuses a task with "Task queue is at limit" once this many are waiting.
    maxQueue: maxQueue ?? Infinity,
  });
  return {
    // With a signal, piscina takes a waiting task out of the queue, or stops the thread running
    // it (and starts a fresh one in its place), and rejects with an AbortError.
    run: (job, { signal } = {}) => pool.run(job, { signal }),
    // close() lets running tasks finish, then stops every thread and waits until they have exited.
    close: () => pool.close(),
  };
}
