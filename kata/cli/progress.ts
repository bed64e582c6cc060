/**
 * The learner's progress, from real test results only.
 *
 * The reporter (progress-reporter.ts) writes .kata/progress.json after every run of the exercises
 * project: per test file, how many tests passed and failed, and a hash of the exercise's files as
 * they were when the run started. A result counts only while the exercise's files still hash the
 * same; anything else is re-run (refresh.ts) before the kata command says done or not.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Exercise } from '../catalog.ts';
import { isTestOwned, stateDir } from '../paths.ts';

/** The last result of one test file. */
export interface FileResult {
  exercise: string;
  /** `exerciseHash` of the exercise when the run started. */
  hash: string;
  passed: number;
  /** Failed tests. */
  failed: number;
  skipped: number;
  /** Errors outside any test: the file failed to load, or an error escaped a test. */
  errors: number;
  /** Failures that are a stub's "Not implemented yet". */
  notImplemented: number;
  at: string;
}

interface ProgressFile {
  version: 1;
  /** Keyed by test file, relative to the repo root with forward slashes (`Exercise.tests`). */
  files: Record<string, FileResult>;
}

export type Status =
  | { state: 'done'; passed: number; skipped: number }
  | { state: 'in progress'; passed: number; total: number }
  | { state: 'not started'; total: number }
  | { state: 'broken' }
  | { state: 'not run'; reason: string };

const progressFile = path.join(stateDir, 'progress.json');

export function readProgress(): ProgressFile {
  try {
    const data = JSON.parse(readFileSync(progressFile, 'utf8')) as ProgressFile;
    if (data.version === 1 && typeof data.files === 'object') return data;
  } catch {
    // No results yet, or a file from another version: start over.
  }
  return { version: 1, files: {} };
}

/** Merges results into the file; re-read right before writing and renamed into place, so `npm test` and a kata command may both write. */
export function saveResults(results: Record<string, FileResult>): void {
  const progress = readProgress();
  Object.assign(progress.files, results);
  mkdirSync(stateDir, { recursive: true });
  const temporary = `${progressFile}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(progress, null, 2)}\n`);
  renameSync(temporary, progressFile);
}

/** Code files below `dir`, relative with forward slashes (docs and an editor's swap files are not code). */
export function codeFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.(ts|mts|cts|js|mjs|cjs|json)$/.test(entry.name))
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .sort();
}

/** A hash of the exercise's code: the learner's files and the tests. */
export function exerciseHash(exercise: Exercise): string {
  const hash = createHash('sha256');
  for (const file of codeFiles(exercise.dir)) hash.update(`${file}\0`).update(readFileSync(path.join(exercise.dir, file))).update('\0');
  return hash.digest('hex');
}

/** The files the learner edits: the exercise's code but the tests and the files only tests use. */
export function learnerFiles(exercise: Exercise): string[] {
  return codeFiles(exercise.dir).filter((file) => !isTestOwned(file));
}

export function statusOf(exercise: Exercise, progress = readProgress(), hash = exerciseHash(exercise)): Status {
  if (exercise.tests.length === 0) return { state: 'not run', reason: 'no tests' };
  const results = exercise.tests.map((test) => progress.files[test]);
  if (results.some((result) => result === undefined)) return { state: 'not run', reason: 'not run yet' };
  if (results.some((result) => result!.hash !== hash)) return { state: 'not run', reason: 'changed since the last run' };
  const sum = (key: 'passed' | 'failed' | 'skipped' | 'notImplemented' | 'errors') => results.reduce((total, result) => total + result![key], 0);
  const [passed, failed, skipped, notImplemented] = [sum('passed'), sum('failed'), sum('skipped'), sum('notImplemented')];
  if (sum('errors') > 0) return { state: 'broken' };
  if (failed === 0 && passed > 0) return { state: 'done', passed, skipped };
  if (passed === 0 && failed > 0 && notImplemented === failed) return { state: 'not started', total: passed + failed };
  return { state: 'in progress', passed, total: passed + failed };
}
