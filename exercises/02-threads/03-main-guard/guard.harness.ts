// Preloaded (node --import) into the learner's program by the tests, and, because workers inherit
// the program's node options, into every worker thread it starts. It reports each worker on
// stderr (started, given its part, exited, stopped with terminate()), and stops a runaway at once: a worker that starts a worker means the program's main
// code is running again inside its workers, and each new worker would do the same, without end.
import dc from 'node:diagnostics_channel';
import { writeSync } from 'node:fs';
import { isMainThread, threadId, type Worker, workerData } from 'node:worker_threads';

const maxWorkers = Number(process.env.KATA_GUARD_MAX_WORKERS ?? 16);
let started = 0;

/** Written synchronously, so it reaches the test even when the next line kills the process. */
const report = (event: Record<string, unknown>) => writeSync(2, `[kata-guard] ${JSON.stringify({ ...event, at: Date.now() })}\n`);

// In a worker, first: the part it was given, so the test can see how the program split the range.
if (!isMainThread) report({ event: 'part', threadId, part: workerData as unknown });

dc.subscribe('worker_threads', (message) => {
  const worker = (message as { worker: Worker }).worker;
  // Read now: a worker's threadId reads -1 once it has exited.
  const id = worker.threadId;
  if (!isMainThread) {
    report({ event: 'nested', parent: threadId, child: id });
    // SIGKILL ends every thread of the process at once; nothing in it can delay or ignore it.
    process.kill(process.pid, 'SIGKILL');
  }
  started += 1;
  report({ event: 'started', threadId: id });
  worker.once('exit', (code) => report({ event: 'exited', threadId: id, code }));
  // Whether the program stops a worker itself: the exit code alone cannot tell, since terminate()
  // on a worker that has already ended by itself changes nothing.
  const terminate = worker.terminate.bind(worker);
  worker.terminate = () => {
    report({ event: 'terminated', threadId: id });
    return terminate();
  };
  if (started > maxWorkers) {
    report({ event: 'too-many', started });
    process.kill(process.pid, 'SIGKILL');
  }
});
