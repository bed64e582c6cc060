import { availableParallelism } from 'node:os';
import type { Answer, Crunched, Query } from './workloads.ts';

// Four workloads, four choices. For each one, pick the mechanism that suits it: async code on
// the main thread, worker threads (jobs.worker.ts is ready to use), child processes
// (jobs.child.ts is ready too), or none at all. The README says what each test measures.

/**
 * I/O with an async API: fetches every URL at once and resolves with the bodies, in order.
 */
export async function fetchAll(urls: readonly string[]): Promise<string[]> {
  // TODO: wait for all the responses at the same time.
  throw new Error('Not implemented yet: fetchAll() in exercises/06-choose/01-choose/choose.ts (see README.md there)');
}

/**
 * I/O through a blocking client: runs every legacyQuery at once and resolves with the answers, in order.
 */
export async function queryAll(queries: readonly Query[]): Promise<Answer[]> {
  // TODO: legacyQuery blocks the thread that calls it. Make all the queries wait at the same time.
  throw new Error('Not implemented yet: queryAll() in exercises/06-choose/01-choose/choose.ts (see README.md there)');
}

/**
 * Heavy CPU work: runs crunch(n) for every size on up to `parallelism` threads at once and
 * resolves with the results, in order.
 */
export async function crunchAll(sizes: readonly number[], parallelism = availableParallelism()): Promise<Crunched[]> {
  // TODO: use up to `parallelism` cores at once.
  throw new Error('Not implemented yet: crunchAll() in exercises/06-choose/01-choose/choose.ts (see README.md there)');
}

/**
 * Many tiny CPU tasks: runs crunch(n) for every size and resolves with the results, in order.
 */
export async function crunchTiny(sizes: readonly number[]): Promise<Crunched[]> {
  // TODO: each task takes microseconds. What is the cheapest way to run 200 of them?
  throw new Error('Not implemented yet: crunchTiny() in exercises/06-choose/01-choose/choose.ts (see README.md there)');
}
