import path from 'node:path';
import { createVitest } from 'vitest/node';
import type { Exercise } from '../catalog.ts';
import { repoRoot } from '../paths.ts';
import { exerciseHash, readProgress, type Status, statusOf } from './progress.ts';
import { ProgressReporter } from './progress-reporter.ts';

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
  try {
    const specifications = (await vitest.globTestSpecifications()).filter((spec) => wanted.has(path.resolve(spec.moduleId)));
    await vitest.runTestSpecifications(specifications);
  } finally {
    await vitest.close();
    // Vitest marks the process failed when a test fails; here a failing test is only news.
    process.exitCode = exitCode;
  }
}
