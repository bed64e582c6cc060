/**
 * The workloads to run. Ready to use: do not change this file. Each workload records where and
 * when it ran (thread, process, start and end), which is how the tests see your choice at work.
 */
import { threadId } from 'node:worker_threads';

/** Where and when one piece of work ran. Times are ms since the Unix epoch, comparable across threads and processes. */
export interface Ran {
  threadId: number;
  pid: number;
  startedAt: number;
  endedAt: number;
}

export interface Crunched extends Ran {
  n: number;
  sum: number;
}

export interface Query {
  key: string;
  /** How long the legacy client blocks before it answers. */
  ms: number;
}

export interface Answer extends Ran {
  key: string;
  value: string;
}

/** A message for jobs.worker.ts or jobs.child.ts: which workload to run, on what. */
export type Job = { workload: 'crunch'; input: number } | { workload: 'legacyQuery'; input: Query };

/** Epoch milliseconds with sub-millisecond precision (Date.now() only has whole ms). */
export const clock = (): number => performance.timeOrigin + performance.now();

const ranHere = (startedAt: number): Ran => ({ threadId, pid: process.pid, startedAt, endedAt: clock() });

/**
 * CPU-bound: the sum of i * i for every i below n. A fixed amount of work (10⁹ steps take about
 * 0.65 s on one core of the machine the kata was written on): only more cores make it faster.
 */
export function crunch(n: number): Crunched {
  const startedAt = clock();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += i * i;
  return { n, sum, ...ranHere(startedAt) };
}

// One shared cell that nothing ever notifies: Atomics.wait on it sleeps for the whole timeout.
const neverNotified = new Int32Array(new SharedArrayBuffer(4));

/**
 * I/O-bound, through a client with only a synchronous API (think of a legacy database driver):
 * it blocks the thread that calls it until the answer arrives. The thread sleeps meanwhile; it
 * uses no CPU, but it can do nothing else either, not even run its event loop.
 */
export function legacyQuery(query: Query): Answer {
  const startedAt = clock();
  Atomics.wait(neverNotified, 0, 0, query.ms);
  return { key: query.key, value: query.key.toUpperCase(), ...ranHere(startedAt) };
}

/** Runs one job here, on this thread: what jobs.worker.ts and jobs.child.ts do with each message. */
export function runJob(job: Job): Crunched | Answer {
  return job.workload === 'crunch' ? crunch(job.input) : legacyQuery(job.input);
}
