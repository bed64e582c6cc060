// Runs inside harness workers (`*.harness.ts`): `node:` imports only. Its message is read by kata/testing/harness-worker.ts.
import { readlinkSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';

/**
 * Tells the test which OS thread this worker is (Linux), so that `cpuTimeMs()` can read its CPU
 * time where Node has no `worker.cpuUsage()`, and `lookAtThread()` can see whether it is asleep.
 */
export function announceThread(): void {
  let proc: string | undefined;
  try {
    proc = readlinkSync('/proc/thread-self');
  } catch {
    // Not Linux: cpuTimeMs() relies on worker.cpuUsage() alone.
  }
  parentPort?.postMessage({ type: 'thread', proc });
}
