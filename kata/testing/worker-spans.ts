import dc from 'node:diagnostics_channel';
import type { Worker } from 'node:worker_threads';
import { Timeline } from './timeline.ts';

/** A worker thread seen starting while a `WorkerSpans` recorder was on. */
export interface SeenWorker {
  worker: Worker;
  /** Read at creation: `worker.threadId` turns to -1 once the worker has exited. */
  threadId: number;
  /** How many messages it posted, and its exit code once it has exited. */
  posted: number;
  exitCode?: number;
}

export interface WorkerSpans {
  /** Every worker started since recording began, in order. */
  readonly seen: SeenWorker[];
  /** The ones that have not exited yet. */
  alive(): SeenWorker[];
  /** Stops recording new workers (spans already open still close). */
  stop(): void;
}

/**
 * Records each worker thread the code under test starts as a span on `timeline`, labelled with its
 * threadId: from `new Worker(...)` to its first message (its report back) or its exit, whichever
 * comes first. Seen through Node's diagnostics channel, so it needs nothing from the learner.
 */
export function recordWorkerSpans(timeline: Timeline, label = (threadId: number) => `thread ${threadId}`): WorkerSpans {
  const seen: SeenWorker[] = [];
  const exited = new Set<Worker>();
  const onWorker = (message: unknown) => {
    const worker = (message as { worker: Worker }).worker;
    const threadId = worker.threadId;
    const record: SeenWorker = { worker, threadId, posted: 0 };
    seen.push(record);
    const end = timeline.begin(label(threadId), { threadId, pid: process.pid });
    worker.once('message', () => end());
    worker.on('message', () => (record.posted += 1));
    worker.once('exit', (code) => {
      end();
      record.exitCode = code;
      exited.add(worker);
    });
  };
  dc.subscribe('worker_threads', onWorker);
  return {
    seen,
    alive: () => seen.filter(({ worker }) => !exited.has(worker)),
    stop: () => dc.unsubscribe('worker_threads', onWorker),
  };
}

/** Runs `work` with every worker thread it starts drawn on a timeline of its own. */
export async function withWorkerSpans<T>(work: (workers: WorkerSpans, timeline: Timeline) => Promise<T>): Promise<T> {
  const timeline = new Timeline();
  const workers = recordWorkerSpans(timeline);
  try {
    return await work(workers, timeline);
  } finally {
    workers.stop();
  }
}
