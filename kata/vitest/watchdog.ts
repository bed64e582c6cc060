/**
 * A learner's loop that never gives the thread back (`while (true) {}`, or a loop of
 * `await Promise.resolve()`) stops every timer on the thread running the tests: `within`,
 * Vitest's own timeouts, everything, and the run would hang forever. So a worker thread watches a
 * heartbeat that this thread bumps from a timer; when it stops for 5 s, the worker stops the loop
 * (watchdog-thread.ts) and the running test fails with a message that names the loop.
 *
 * Imported first by setup.ts, so that it watches the test file's imports too.
 */
import { aroundEach } from 'vitest';
import inspector from 'node:inspector';
import { Worker } from 'node:worker_threads';
import { repoRoot } from '../paths.ts';
import { reportStall, takeStall, ThreadStalled } from '../testing/deadline.ts';
import { forgetWorker, liveChildren } from '../testing/spawned.ts';
import { watchdogThread } from './watchdog-thread.ts';

interface Watchdog {
  /** The test running now, and how to fail it. */
  running?: { name: string; fail: (error: Error) => void };
  /** The test that stalled this process, if one did. */
  stalledTest?: string;
  /** Called by the watchdog's thread, through the inspector, while the loop is paused. */
  stall(message: string, stack: string): void;
}

const key = Symbol.for('concurrency-kata.watchdog');
const watchdog = ((globalThis as { [key]?: Watchdog })[key] ??= start());

function start(): Watchdog {
  // Someone debugging (vitest --inspect, an editor's debugger) holds the thread at a breakpoint on
  // purpose: no watchdog then.
  if (inspector.url() !== undefined) return { stall() {} };
  const beats = new Int32Array(new SharedArrayBuffer(4));
  // A beat and a look every 250 ms: a fraction of a percent of a core, and a stall is seen to the quarter second.
  setInterval(() => Atomics.add(beats, 0, 1), 250).unref();
  // 5 s is far above the longest a right answer holds the thread, even with verify's lanes
  // sharing two cores.
  const workerData = { beats, stallMs: 5_000, root: repoRoot };
  const worker = new Worker(`(${watchdogThread.toString()})()`, { eval: true, workerData });
  worker.unref(); // never the reason a test file's process stays alive
  forgetWorker(worker); // never one of the learner's workers, which tests count
  const watchdog: Watchdog = {
    stall(message, stack) {
      watchdog.stalledTest = watchdog.running?.name;
      const error = new ThreadStalled(message);
      // The stack of the loop, so that Vitest shows the learner's line, not one of the kata's.
      error.stack = `ThreadStalled: ${message}\n${stack}`;
      reportStall(error);
    },
  };
  // After the loop is stopped: fails the test, unless a deadline of the test already did.
  worker.on('message', () => {
    const error = takeStall();
    if (error && watchdog.running) watchdog.running.fail(error);
    else if (error) {
      // Outside a test (a loop at import, in a hook), Vitest's own promises for this file were
      // dropped: it would wait forever. Report the error, then end this process: Vitest reports
      // the file as failed and runs the next one.
      setImmediate(() => {
        throw error;
      });
      setTimeout(() => {
        for (const child of liveChildren()) child.kill('SIGKILL');
        process.kill(process.pid, 'SIGKILL');
      }, 500);
    }
  });
  return watchdog;
}

// When the loop is stopped, the test function that called it may be gone too, and the test would
// never settle: so each test runs beside a promise that fails it then.
aroundEach(async (runTest, context) => {
  // Stopping the loop also dropped every promise callback this thread had queued, Vitest's own
  // among them: what runs after it in this process can no longer be trusted.
  if (watchdog.stalledTest !== undefined) {
    const error = new Error(
      `Not run: the test "${watchdog.stalledTest}" never gave this thread back, and stopping it left this test file's process unfit to run more tests. Fix that one first.`,
    );
    error.stack = `Error: ${error.message}`; // no line of the kata's to show
    throw error;
  }
  const stalled = new Promise<never>((_, reject) => {
    watchdog.running = { name: context.task.name, fail: reject };
  });
  try {
    // runTest starts in a later microtask, so this race is in place before the test runs.
    await Promise.race([Promise.resolve().then(runTest), stalled]);
  } finally {
    watchdog.running = undefined;
  }
});
