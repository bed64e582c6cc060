import { readFileSync, writeFileSync } from 'node:fs';
import type { Target } from './projects.ts';

/**
 * How a tool tells vitest.config.ts what to run, when that is not the learner's own run: the
 * environment variables it reads, each written and read here only.
 *
 * - KATA_PLAN names a JSON file of targets (verify's stubs, solutions and fixtures; the UI check's
 *   copy of exercises/), written by the tool before it starts Vitest.
 * - KATA_MUTATE names the exercise whose solution Stryker mutates (`npm run mutate`).
 */
const planVariable = 'KATA_PLAN';
const mutateVariable = 'KATA_MUTATE';

/** Writes `targets` to `file` and returns the environment that makes Vitest run them. */
export function planEnv(file: string, targets: Target[]): Record<string, string> {
  writeFileSync(file, JSON.stringify(targets));
  return { [planVariable]: file };
}

/** The planned targets, or undefined when no tool planned the run. */
export function plannedByTool(): Target[] | undefined {
  const file = process.env[planVariable];
  return file ? (JSON.parse(readFileSync(file, 'utf8')) as Target[]) : undefined;
}

/** The environment of a mutation run of `exerciseId`. */
export function mutateEnv(exerciseId: string): Record<string, string> {
  return { [mutateVariable]: exerciseId };
}

/** The exercise being mutated, or undefined outside `npm run mutate`. */
export function mutatedExercise(): string | undefined {
  return process.env[mutateVariable] || undefined;
}
