import type { ChildProcess } from 'node:child_process';
import dc from 'node:diagnostics_channel';
import type { Worker } from 'node:worker_threads';
import { isReaperStarting } from './spawned.ts';

export interface Started {
  workers: number;
  children: number;
}

export interface SpawnLimit {
  /** Resolves, with what had been started by then, the moment more than `limit` were started. */
  readonly exceeded: Promise<Started>;
  /** Workers and child processes started since the limit was set. */
  started(): Started;
  /** Stops counting (and stopping). */
  stop(): void;
}

/**
 * Watches the worker threads and child processes that code under test starts, and stops every
 * one past `limit` (workers and children together): a child is refused before it exists (its
 * fork() or spawn() throws), a worker is terminated as soon as it has been handed back. A
 * learner's "a process per task" over hundreds of tasks then costs milliseconds, not hundreds of
 * start-ups and gigabytes, and the test fails at once with its own message: race the code under
 * test against `exceeded`, with `exceeded` first (the refused fork rejects the code's promise too).
 */
export function limitSpawns(limit: number): SpawnLimit {
  const started: Started = { workers: 0, children: 0 };
  let reportExceeded!: (started: Started) => void;
  const exceeded = new Promise<Started>((resolve) => (reportExceeded = resolve));
  const overLimit = () => started.workers + started.children > limit;

  // Both channels publish from inside the constructor. A ChildProcess is not spawned yet, so it
  // can be refused; a Worker's thread is already starting, so it is stopped one tick later.
  const onWorker = (message: unknown) => {
    started.workers += 1;
    if (!overLimit()) return;
    const worker = (message as { worker: Worker }).worker;
    process.nextTick(() => void worker.terminate());
    reportExceeded({ ...started });
  };
  const onChild = (message: unknown) => {
    if (isReaperStarting()) return;
    started.children += 1;
    if (!overLimit()) return;
    const child = (message as { process: ChildProcess }).process;
    const refusal = `refused by the test: more than ${limit} worker threads and child processes were started`;
    Object.defineProperty(child, 'spawn', {
      value: () => {
        throw new Error(refusal);
      },
    });
    reportExceeded({ ...started });
  };
  dc.subscribe('worker_threads', onWorker);
  dc.subscribe('child_process', onChild);
  return {
    exceeded,
    started: () => ({ ...started }),
    stop() {
      dc.unsubscribe('worker_threads', onWorker);
      dc.unsubscribe('child_process', onChild);
    },
  };
}
