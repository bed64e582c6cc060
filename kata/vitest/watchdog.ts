/**
 * A learner's loop that never gives the thread back (`while (true) {}`, or a loop of
 * `await Promise.resolve()`) stops every timer on the thread running the tests: `within`,
 * Vitest's own timeouts, everything, and the run would hang forever. So a worker thread watches a
 * heartbeat that this thread bumps from a timer; when it stops for 5 s, the worker stops the loop
 * (watchdog.worker.ts) and the running test fails with a message that names the loop.
 *
 * Imported first by setup.ts: the worker starts before spawnLog() subscribes, so it is never
 * counted among the learner's workers.
 */
import { aroundEach } from 'vitest';
import { Worker } from 'node:worker_threads';
import { repoRoot } from '../paths.ts';

const key = Symbol.for('concurrency-kata.watchdog');
const global = globalThis as { [key]?: { stalled: (error: Error) => void } };

if (!global[key]) {
  const beats = new Int32Array(new SharedArrayBuffer(4));
  setInterval(() => Atomics.add(beats, 0, 1), 100).unref();
  // 5 s is far above the longest a right answer holds the thread, even with verify's lanes
  // sharing two cores.
  const workerData = { beats, stallMs: 5_000, root: repoRoot };
  const worker = new Worker(new URL('./watchdog.worker.ts', import.meta.url), { workerData });
  worker.unref(); // never the reason a test file's process stays alive
  const watchdog = { stalled: (error: Error) => console.error(error) };
  worker.on('message', ({ stalled, stack }: { stalled: string; stack?: string }) => {
    // The stack of the loop, so that Vitest shows the learner's line, not this one.
    const error = new Error(stalled);
    error.stack = `Error: ${stalled}\n${stack ?? ''}`;
    watchdog.stalled(error);
  });
  global[key] = watchdog;
}

let stalledTest: string | undefined;

// When the message comes, the loop and the test function that called it are gone, and the test
// would never settle: so each test runs beside a promise that fails it then.
aroundEach(async (runTest, context) => {
  // Stopping the loop also dropped every promise callback this thread had queued, Vitest's own
  // among them: what runs after it in this process can no longer be trusted.
  if (stalledTest !== undefined) {
    const error = new Error(`Not run: the test "${stalledTest}" never gave this thread back, and stopping it left this test file's process unfit to run more tests. Fix that one first.`);
    error.stack = `Error: ${error.message}`; // no line of the kata's to show
    throw error;
  }
  const watchdog = global[key]!;
  const stalled = new Promise<never>((_, reject) => {
    watchdog.stalled = (error) => {
      stalledTest = context.task.name;
      reject(error);
    };
  });
  try {
    // runTest starts in a later microtask, so this race is in place before the test runs.
    await Promise.race([Promise.resolve().then(runTest), stalled]);
  } finally {
    watchdog.stalled = (error) => console.error(error);
  }
});
