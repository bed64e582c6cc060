import path from 'node:path';
import { createVitest } from 'vitest/node';
import type { Exercise } from '../catalog.ts';
import { repoRoot } from '../paths.ts';
import { exerciseHash, readProgress, type Status, statusOf } from './progress.ts';
import { ProgressReporter } from '../vitest/progress-reporter.ts';
import { deadline, minutesFromEnv } from '../process-group.ts';

/**
 * The statuses of `exercises`, from test results that match the files as they are now: the tests
 * of every exercise without such a result are run first, quietly (`onRun` says which).
 */
export async function refreshProgress(exercises: Exercise[], onRun?: (stale: Exercise[]) => void): Promise<Map<Exercise, Status>> {
  const before = readProgress();
  const stale = exercises.filter((exercise) => statusOf(exercise, before).state === 'not run' && exercise.tests.length > 0);
  if (stale.length > 0) {
    onRun?.(stale);
    await runTests(stale);
  }
  const after = readProgress();
  return new Map(exercises.map((exercise) => [exercise, statusOf(exercise, after, exerciseHash(exercise))]));
}

/** The tests that bring the progress up to date did not end in time (they were stopped). */
export class TestsOverran extends Error {}

async function runTests(exercises: Exercise[]): Promise<void> {
  const wanted = new Set(exercises.flatMap((exercise) => exercise.tests.map((test) => path.join(repoRoot, test))));
  const vitest = await createVitest({
    config: path.join(repoRoot, 'vitest.config.ts'),
    project: 'exercises',
    watch: false,
    silent: true,
    reporters: [new ProgressReporter({ summary: false })],
  });
  const exitCode = process.exitCode;
  // Each test has its own deadline and a watchdog; this one catches what no test's can (a test
  // process that never reports back), so that `kata list` always ends.
  const minutes = minutesFromEnv('KATA_REFRESH_MINUTES', 5);
  let reportOverrun!: (error: TestsOverran) => void;
  const overran = new Promise<never>((_, reject) => (reportOverrun = reject));
  const limit = deadline(minutes * 60_000, () =>
    reportOverrun(
      new TestsOverran(
        `The tests of ${exercises.map((exercise) => exercise.id).join(', ')} did not finish in ${minutes} minutes, so their progress is not known. Run them with npm test -- <exercise> to see where they stop.`,
      ),
    ),
  );
  try {
    const specifications = (await vitest.globTestSpecifications()).filter((spec) => wanted.has(path.resolve(spec.moduleId)));
    await Promise.race([vitest.runTestSpecifications(specifications), overran]);
  } finally {
    limit.cancel();
    // Stuck test processes are not waited for: they end with this process (and what they
    // started, with them: kata/inside/reaper.ts).
    await (limit.expired ? Promise.race([vitest.close(), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]) : vitest.close());
    // Vitest marks the process failed when a test fails; here a failing test is only news.
    process.exitCode = exitCode;
  }
}
