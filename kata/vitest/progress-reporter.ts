/**
 * A Vitest reporter for the exercises project: records each test file's result in
 * .kata/progress.json (see progress.ts) and closes the run with the progress bar, the next
 * exercise and where to find a hint. It adds to the default reporter's output, never replaces it.
 */
import path from 'node:path';
import type { SerializedError } from 'vitest';
import type { Reporter, TestModule, TestSpecification, Vitest } from 'vitest/node';
import { type Exercise, exercises } from '../catalog.ts';
import { isNotImplementedMessage } from '../inside/not-implemented.ts';
import { repoRoot } from '../paths.ts';
import { closingLines, paintFor } from '../cli/format.ts';
import { NotWritable } from '../writable.ts';
import { exerciseHash, type FileResult, readProgress, saveResults, statusOf, warnOnce } from '../cli/progress.ts';

const project = 'exercises';

/**
 * Marks a ProgressReporter, whichever copy of this module made it: vitest.config.ts is loaded by
 * Vitest's own loader, so the class there is not the one the kata command imports (instanceof fails).
 */
const brand = Symbol.for('concurrency-kata:progress-reporter');

export function isProgressReporter(reporter: unknown): boolean {
  return typeof reporter === 'object' && reporter !== null && brand in reporter;
}

export class ProgressReporter implements Reporter {
  readonly [brand] = true;
  readonly #summary: boolean;
  #vitest: Vitest | undefined;
  /** Each exercise's hash when its tests started: a result belongs to the files it ran against. */
  readonly #hashes = new Map<string, string>();

  constructor({ summary = true }: { summary?: boolean } = {}) {
    this.#summary = summary;
  }

  onInit(vitest: Vitest): void {
    this.#vitest = vitest;
  }

  onTestRunStart(specifications: ReadonlyArray<TestSpecification>): void {
    neverThrow(() => this.#remember(specifications));
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>, reason: string): void {
    neverThrow(() => this.#record(modules, unhandledErrors, reason));
  }

  #remember(specifications: ReadonlyArray<TestSpecification>): void {
    for (const specification of specifications) {
      const exercise = specification.project.name === project ? exerciseOf(specification.moduleId) : undefined;
      if (exercise && !this.#hashes.has(exercise.id)) this.#hashes.set(exercise.id, exerciseHash(exercise));
    }
  }

  #record(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>, reason: string): void {
    const hashes = new Map(this.#hashes);
    this.#hashes.clear();
    const own = modules.filter((module) => module.project.name === project);
    if (own.length === 0 || reason === 'interrupted') return;

    // A run filtered by test name proves failures, but not that an exercise is done.
    const filtered = Boolean(this.#vitest?.config.testNamePattern);
    const results: Record<string, FileResult> = {};
    for (const module of own) {
      const exercise = exerciseOf(module.moduleId);
      if (!exercise || module.state() === 'queued' || module.state() === 'pending') continue;
      const tests = [...module.children.allTests()].map((test) => test.result());
      const failures = tests.filter((result) => result.state === 'failed');
      // An unhandled error fails the run: it counts against its own file, or against every file when it names none.
      const unhandled = unhandledErrors.filter((error) => {
        const file = (error as { VITEST_TEST_PATH?: string }).VITEST_TEST_PATH;
        return file === undefined || path.resolve(file) === path.resolve(module.moduleId);
      }).length;
      const errors = module.errors().length + unhandled;
      if (filtered && failures.length + errors === 0) continue;
      results[relativeTest(module.moduleId)] = {
        exercise: exercise.id,
        hash: hashes.get(exercise.id) ?? exerciseHash(exercise),
        passed: tests.filter((result) => result.state === 'passed').length,
        failed: failures.length,
        errors,
        skipped: tests.filter((result) => result.state === 'skipped').length,
        // Errors arrive serialized (not Error instances): the stub's is known by its message.
        notImplemented: failures.filter((result) => result.errors?.every((error) => isNotImplementedMessage(error.message))).length,
        at: new Date().toISOString(),
      };
    }
    try {
      saveResults(results);
    } catch (error) {
      // A .kata that cannot be written costs the record, not the run: the closing lines still come.
      if (!(error instanceof NotWritable)) throw error;
      warnOnce(`${error.message} Your progress is not saved.`);
    }

    if (this.#summary && this.#vitest) {
      const progress = readProgress();
      const statuses = new Map(exercises().map((exercise) => [exercise, statusOf(exercise, progress)]));
      this.#vitest.logger.log(['', ...closingLines(statuses, paintFor(process.stdout)), ''].join('\n'));
    }
  }
}

/**
 * A reporter that throws inside Vitest turns a passing run red ("Unhandled Error"): whatever goes
 * wrong while recording progress is one line on stderr instead.
 */
function neverThrow(record: () => void): void {
  try {
    record();
  } catch (error) {
    warnOnce(`The kata could not record your progress: ${(error as Error).message?.split('\n')[0] ?? String(error)}`);
  }
}

function exerciseOf(moduleId: string): Exercise | undefined {
  const file = relativeTest(moduleId);
  return exercises().find((exercise) => exercise.tests.includes(file));
}

function relativeTest(moduleId: string): string {
  return path.relative(repoRoot, moduleId).split(path.sep).join('/');
}
