/**
 * The one home of what the kata relies on in Vitest beyond its documented API. Each is checked by
 * kata/vitest/setup.test.ts ("what the kata relies on in Vitest"), so that an upgrade that breaks
 * one fails there, by name, before a learner sees it:
 *
 * - `annotateFinishedTest`: Vitest takes annotations only while a test runs (its result's state is
 *   'run'), and the kata attaches timelines in afterEach, after the verdict is in.
 * - `errorsOf`: a finished test's errors, read in afterEach from `context.task.result`.
 * - (kata/vitest/run-targets.ts, `intoRounds`) within one Vitest instance, a second run of a test
 *   file is served the module code of the first run's target, so two targets that run the same
 *   test file never share an instance (checked by kata/tools.test.ts, verify judging fixtures).
 */
import type { TestContext } from 'vitest';

/** The errors of the test `context` belongs to, as they stand (in afterEach: the verdict's). */
export function errorsOf(context: TestContext): ReadonlyArray<{ message?: string }> {
  return context.task.result?.errors ?? [];
}

/**
 * Attaches an annotation (a message and a picture) to a test whose verdict is in: the verdict is
 * set aside for the one synchronous call that records the annotation (Vitest checks the state
 * there and nowhere after), then put back. A picture that cannot be attached is a warning, and
 * never turns the verdict around.
 */
export async function annotateFinishedTest(context: TestContext, message: string, attachment: { contentType: string; body: string }): Promise<void> {
  const result = context.task.result as { state: string } | undefined;
  const verdict = result?.state;
  if (result) result.state = 'run';
  let recorded: Promise<unknown>;
  try {
    recorded = context.annotate(message, 'timeline', attachment);
  } finally {
    if (result) result.state = verdict!;
  }
  await recorded.catch((error: unknown) => console.warn(`Could not attach the timeline: ${(error as Error).message}`));
}
