// First, so that a loop in the test file's imports is caught too.
import './watchdog.ts';
import { afterAll, afterEach, beforeEach, expect, type TestContext } from 'vitest';
import { measuringTest } from '../testing/measure.ts';
import { liveChildren, liveWorkers, spawnLog } from '../testing/spawned.ts';
import { collectTimelines, type Timeline } from '../testing/timeline.ts';

// Start watching before the test file imports anything that could start a worker or a child.
spawnLog();

// Every Timeline a test creates is attached to it: a picture in Vitest UI, and on failure a
// text timeline in the terminal (unless the test's own message already shows one).
let stopCollecting: (() => Timeline[]) | undefined;
beforeEach(() => {
  stopCollecting = collectTimelines();
  measuringTest(expect.getState().currentTestName ?? '');
});
afterEach(async (context) => {
  const timelines = (stopCollecting?.() ?? []).filter((timeline) => timeline.spans.length > 0);
  stopCollecting = undefined;
  const errors = context.task.result?.errors ?? [];
  const failed = errors.length > 0;
  const shown = errors.some((error) => error.message?.includes('timeline (0 to '));
  for (const timeline of timelines) {
    const message = failed && !shown ? `${timeline.summary()}\n${timeline.toText()}` : timeline.summary();
    await annotateFinishedTest(context, message, Buffer.from(timeline.toSvg()).toString('base64'));
  }
});

/**
 * Vitest accepts annotations only while a test runs, and afterEach comes after the verdict; but
 * only now are the timelines complete. So the verdict is set aside for the one synchronous call
 * that records the annotation (the state is checked there and nowhere after).
 */
async function annotateFinishedTest(context: TestContext, message: string, svgBase64: string): Promise<void> {
  const result = context.task.result as { state: string } | undefined;
  const verdict = result?.state;
  if (result) result.state = 'run';
  let recorded: Promise<unknown>;
  try {
    recorded = context.annotate(message, 'timeline', { contentType: 'image/svg+xml', body: svgBase64 });
  } finally {
    if (result) result.state = verdict!;
  }
  // A picture that cannot be attached must not turn the test's verdict around.
  await recorded.catch((error: unknown) => console.warn(`Could not attach the timeline: ${(error as Error).message}`));
}

// Nothing outlives a test file: a learner's leaked worker or runaway child is stopped here, so
// the run always exits and leaves no orphan process behind. (Tests that teach "clean up after
// yourself" check for leaks themselves, before this runs.)
afterAll(async () => {
  for (const child of liveChildren()) child.kill('SIGKILL');
  await Promise.all(liveWorkers().map((worker) => worker.terminate()));
});
