// The reference solutions the benchmarks measure, imported here only: a solution that moves or
// renames an export breaks this one file. (bench/workers/increment.worker.ts, a file Node loads
// in each thread, imports the Mutex itself, so that a thread loads nothing else.)
export { crawl } from '../solutions/01-async/02-limit/limit.ts';
export { ProcessPool } from '../solutions/03-processes/03-process-pool/process-pool.ts';
export { createPool, type SquaresPool } from '../solutions/04-pools/01-piscina/piscina.ts';
export { crunchAll, fetchAll } from '../solutions/06-choose/01-choose/choose.ts';
export { crunch, type Job } from '../solutions/06-choose/01-choose/workloads.ts';

/** The child that runs choose's jobs, for the process-per-job rows. */
export const jobsChild = new URL('../solutions/06-choose/01-choose/jobs.child.ts', import.meta.url);
