import type { TestProjectInlineConfiguration } from 'vitest/config';
import { selectExercises } from '../catalog.ts';
import { targetEnv } from '../inside/target.ts';
import { exercisesDir, solutionsDir } from '../paths.ts';
import { mutatedExercise, plannedByTool } from './plan.ts';
import { recordProgress } from './record-progress.ts';
import { serveTarget } from './serve-target.ts';

/** One implementation the suite runs against: a folder that mirrors exercises/. */
export interface Target {
  /** Vitest project name, e.g. `solutions` or `wrong:gather/sequential-awaits`. */
  name: string;
  dir: string;
  /** Test files to run, relative to the repo root. */
  include: string[];
  /** Only these tests, by full name (`describe > test`): a wrong answer runs the test that should reject it. */
  testNames?: string[];
  /** Only the tests these Vitest tag expressions select, e.g. `['!speed-up']`. */
  tagsFilter?: string[];
}

const allTests = ['exercises/**/*.test.ts'];

export const learnerTargets: Target[] = [
  { name: 'exercises', dir: exercisesDir, include: allTests },
  { name: 'solutions', dir: solutionsDir, include: allTests },
];

/**
 * `npm run verify` writes its targets (stubs, solutions, every fixture) to a plan file;
 * `npm run mutate -- <id>` runs that exercise's tests against its (mutated) solution.
 */
export function plannedTargets(): Target[] {
  const planned = plannedByTool();
  if (planned) return planned;
  const mutated = mutatedExercise();
  if (mutated) return [{ name: 'solutions', dir: solutionsDir, include: selectExercises([mutated])[0]!.tests }];
  return learnerTargets;
}

export function toProject(target: Target): TestProjectInlineConfiguration {
  return {
    extends: true,
    // The learner's own project (npm test, npm run ui, the kata command) records their progress.
    plugins: [serveTarget(target.dir), ...(target.name === 'exercises' ? [recordProgress()] : [])],
    test: {
      name: target.name,
      include: target.include,
      // The guards around learner code: the watchdog, what a test leaves running or lets escape.
      // (Not the tooling project's: its tests wait on whole Vitest runs, blocking on purpose.)
      setupFiles: ['./kata/vitest/setup.ts'],
      // Read by test-owned files that Node loads itself (harness workers) and inherited by children.
      env: targetEnv(target.dir),
    },
  };
}

/**
 * The kata's own tooling tests (the *.test.ts files below kata/: state files, command lines), run by
 * `npm run test:tooling`. vitest.config.ts adds this project only when it is asked for, so a
 * learner's run and verify never see it.
 */
export const toolingProject: TestProjectInlineConfiguration = {
  extends: true,
  test: { name: 'tooling', include: ['kata/**/*.test.ts'], testTimeout: 60_000 },
};
