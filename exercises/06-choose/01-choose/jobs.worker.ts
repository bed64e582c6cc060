// A worker thread that runs jobs: post it a Job, it posts back the result. Ready to use.
// It stays alive, waiting for the next job, until you call worker.terminate() (exit code 1 then).
import { parentPort } from 'node:worker_threads';
import { runJob, type Job } from './workloads.ts';

parentPort!.on('message', (job: Job) => parentPort!.postMessage(runJob(job)));
