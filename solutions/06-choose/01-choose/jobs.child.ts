// A child process that runs jobs: child.send() it a Job, it sends back the result. Ready to use.
// It stays alive, waiting for the next job, until you call child.disconnect() (or kill it).
import { runJob, type Job } from './workloads.ts';

process.on('message', (job: Job) => process.send!(runJob(job)));
