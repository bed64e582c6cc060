/**
 * The learner's progress, from real test results only.
 *
 * The reporter (kata/vitest/progress-reporter.ts) writes .kata/progress.json after every run of the exercises
 * project: per test file, how many tests passed and failed, and a hash of the exercise's files as
 * they were when the run started. A result counts only while the exercise's files still hash the
 * same; anything else is re-run (refresh.ts) before the kata command says done or not.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Exercise } from '../catalog.ts';
import { isTestOwned, stateDir } from '../paths.ts';
import { NotWritable, notWritableMessage, shownPath } from '../writable.ts';
import { progressProblem } from './progress-file.ts';

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

export interface ProgressFile {
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

export const progressFile = path.join(stateDir, 'progress.json');

/** Results that could not be written (a read-only .kata), kept for the rest of this process. */
const unsaved = new Map<string, Record<string, FileResult>>();

/**
 * The results in `file`. A file that is not a progress file (not JSON, `"files": null`, a list,
 * an entry without its counts) is set aside as `<file>.broken-<time>`, with one line saying so,
 * and the progress starts over: it is rebuilt from the next test runs.
 */
export function readProgress(file = progressFile): ProgressFile {
  const progress: ProgressFile = { version: 1, files: {} };
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // No results yet (or none readable: saving them will say what is wrong with the folder).
  }
  if (text !== undefined) {
    let problem: string | undefined;
    try {
      const data: unknown = JSON.parse(text);
      problem = progressProblem(data);
      if (problem === undefined) progress.files = (data as ProgressFile).files;
    } catch {
      problem = 'it is not JSON';
    }
    if (problem !== undefined) setAside(file, problem);
  }
  Object.assign(progress.files, unsaved.get(file));
  return progress;
}

function setAside(file: string, problem: string): void {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  let aside = `${file}.broken-${stamp}`;
  // Never over an earlier broken file: each may be the one someone wants to look at.
  for (let n = 2; existsSync(aside); n += 1) aside = `${file}.broken-${stamp}-${n}`;
  try {
    renameSync(file, aside);
    warnOnce(`${shownPath(file)} was not a valid progress file (${problem}): kept as ${path.basename(aside)} beside it, and rebuilt from your test runs.`);
  } catch (error) {
    warnOnce(`${shownPath(file)} is not a valid progress file (${problem}), and it cannot be set aside. ${notWritableMessage(path.dirname(file), error)}`);
  }
}

/**
 * Merges results into the file; re-read right before writing and renamed into place, so `npm test`
 * and a kata command may both write. When the folder cannot be written, the results are kept for
 * this process and a NotWritable error says which folder and what to do.
 */
export function saveResults(results: Record<string, FileResult>, file = progressFile): void {
  const progress = readProgress(file);
  Object.assign(progress.files, results);
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(temporary, `${JSON.stringify(progress, null, 2)}\n`);
    renameSync(temporary, file);
    unsaved.delete(file);
  } catch (error) {
    unsaved.set(file, progress.files);
    try {
      rmSync(temporary, { force: true });
    } catch {
      // Never written: the folder is the problem, and the message below names it.
    }
    throw new NotWritable(notWritableMessage(path.dirname(file), error));
  }
}

/** Says `line` on stderr once per process: a broken file is read many times in one run. */
const said = new Set<string>();
export function warnOnce(line: string): void {
  if (said.has(line)) return;
  said.add(line);
  console.error(line);
}

/** Whether a file is code (docs and an editor's swap files are not). */
export function isCodeFile(name: string): boolean {
  return /\.(ts|mts|cts|js|mjs|cjs|json)$/.test(name);
}

/** Code files below `dir`, relative with forward slashes. */
export function codeFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && isCodeFile(entry.name))
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .sort();
}

/** A hash of the exercise's code: the learner's files and the tests. */
export function exerciseHash(exercise: Exercise): string {
  const hash = createHash('sha256');
  for (const file of codeFiles(exercise.dir))
    hash
      .update(`${file}\0`)
      .update(readFileSync(path.join(exercise.dir, file)))
      .update('\0');
  return hash.digest('hex');
}

/** The files the learner edits: its manifest's list, or the exercise's code but the files the tests own. */
export function learnerFiles(exercise: Exercise): string[] {
  return exercise.manifest?.files.edit ?? codeFiles(exercise.dir).filter((file) => !isTestOwned(file));
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
