import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { crunch, type Answer, type Crunched, type Job, type Query } from './workloads.ts';

/**
 * I/O with an async API: fetches every URL at once and resolves with the bodies, in order.
 */
export async function fetchAll(urls: readonly string[]): Promise<string[]> {
  // A request in flight is only a socket and a promise: the one event loop watches all of them,
  // so every request can wait at the same time without a single extra thread.
  return Promise.all(
    urls.map(async (url) => {
      const response = await fetch(url);
      if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
      return response.text();
    }),
  );
}

/**
 * I/O through a blocking client: runs every legacyQuery at once and resolves with the answers, in order.
 */
export async function queryAll(queries: readonly Query[]): Promise<Answer[]> {
  // legacyQuery holds its thread for the whole wait, so N overlapping waits need N threads.
  // The threads sleep while they wait: one per query costs memory, not CPU.
  return runOnWorkers(
    queries.map((query): Job => ({ workload: 'legacyQuery', input: query })),
    queries.length,
  ) as Promise<Answer[]>;
}

/**
 * Heavy CPU work: runs crunch(n) for every size on up to `parallelism` threads at once and
 * resolves with the results, in order.
 */
export async function crunchAll(sizes: readonly number[], parallelism = availableParallelism()): Promise<Crunched[]> {
  // Each job keeps a core busy: more threads than cores would only take turns.
  return runOnWorkers(
    sizes.map((n): Job => ({ workload: 'crunch', input: n })),
    parallelism,
  ) as Promise<Crunched[]>;
}

/**
 * Many tiny CPU tasks: runs crunch(n) for every size and resolves with the results, in order.
 */
export async function crunchTiny(sizes: readonly number[]): Promise<Crunched[]> {
  // Each task takes microseconds; a worker takes ~30 ms to start and a process ~60 ms, and even a
  // warm pool's message costs 15-50 us. Doing the tasks right here is the fastest way there is.
  return sizes.map(crunch);
}

/** Runs `jobs` on `threads` workers (at most one per job), each taking the next job when it is free. */
async function runOnWorkers(jobs: readonly Job[], threads: number): Promise<Array<Answer | Crunched>> {
  const workers = Array.from({ length: Math.max(1, Math.min(threads, jobs.length)) }, () => new Worker(new URL('./jobs.worker.ts', import.meta.url)));
  const results: Array<Answer | Crunched> = new Array(jobs.length);
  let next = 0;
  const drain = async (worker: Worker) => {
    // `next++` happens on the main thread only, so no two workers ever take the same job.
    while (next < jobs.length) {
      const index = next++;
      results[index] = await ask(worker, jobs[index]!);
    }
  };
  try {
    await Promise.all(workers.map(drain));
    return results;
  } finally {
    // Workers wait for messages forever, so they never end by themselves: stop them (exit code 1), or
    // they keep the process alive.
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

/** Sends one job to a worker and waits for its answer, its error, or its unexpected exit. */
function ask(worker: Worker, job: Job): Promise<Answer | Crunched> {
  return new Promise((resolve, reject) => {
    const stopListening = () => {
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
    };
    const onMessage = (result: Answer | Crunched) => (stopListening(), resolve(result));
    const onError = (error: Error) => (stopListening(), reject(error));
    const onExit = (code: number) => (stopListening(), reject(new Error(`worker exited with code ${code} before answering`)));
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    worker.postMessage(job);
  });
}
