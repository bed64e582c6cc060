/**
 * Puts an exercise's stub back from git, after copying the learner's files to a backup (backups.ts).
 * Reads git's objects directly (`git show`), so the index and every other file stay as they are.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Exercise } from '../catalog.ts';
import { notImplementedText } from '../inside/not-implemented.ts';
import { repoRoot } from '../paths.ts';
import { backUp, filesIn, isLearners } from './backups.ts';

const git = (args: string[]) =>
  execFileSync('git', args, { cwd: repoRoot, encoding: 'buffer', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });

/** `exercises/01-async/01-gather`, as git names it. */
const folderOf = (exercise: Exercise) => `exercises/${exercise.folder}`;

/**
 * The newest commit whose copy of the exercise is still the stub (it throws "Not implemented
 * yet"): HEAD, unless the learner has committed their own work on top of it.
 */
export function committedStub(exercise: Exercise): string {
  let commits: string[];
  try {
    commits = git(['log', '--format=%H', '--', folderOf(exercise)])
      .toString()
      .split('\n')
      .filter(Boolean);
  } catch {
    throw new Error('reset needs git, and the kata as a git clone: git was not found, or this folder is not a clone.');
  }
  for (const commit of commits) {
    try {
      git(['grep', '--quiet', '--fixed-strings', notImplementedText, commit, '--', folderOf(exercise)]);
      return commit;
    } catch {
      // No stub in this commit: try an older one.
    }
  }
  throw new Error(`No commit in this clone has the stub of ${exercise.id} (${folderOf(exercise)}).`);
}

/** The committed files of the exercise at `commit`, relative to its folder, with their contents. */
export function committedFiles(exercise: Exercise, commit: string): Map<string, Buffer> {
  const names = git(['ls-tree', '-r', '--name-only', commit, '--', `${folderOf(exercise)}/`])
    .toString()
    .split('\n')
    .filter(Boolean);
  return new Map(names.map((name) => [path.posix.relative(folderOf(exercise), name), git(['show', `${commit}:${name}`])]));
}

/** The same text, whatever the line endings. */
export function sameText(a: Buffer, b: Buffer): boolean {
  const normal = (data: Buffer) => data.toString('utf8').replace(/\r\n/g, '\n');
  return normal(a) === normal(b);
}

/** Files that differ from `committed` (changed, added, or deleted). Line endings count as no change. */
export function changedFiles(exercise: Exercise, committed: Map<string, Buffer>): string[] {
  const now = filesIn(exercise.dir);
  const changed = now.filter((file) => {
    const before = committed.get(file);
    return before === undefined || !sameText(before, readFileSync(path.join(exercise.dir, file)));
  });
  const deleted = [...committed.keys()].filter((file) => !now.includes(file));
  return [...changed, ...deleted].sort();
}

/**
 * Copies the learner's files (backups.ts: their code, and files they added) to
 * .kata/backups/<id>/<time>/, then makes the folder exactly the committed stub (files the learner
 * added are removed: they are in the backup). Returns the backup, or undefined when there was
 * nothing of the learner's to keep.
 */
export function resetExercise(exercise: Exercise, committed: Map<string, Buffer>): string | undefined {
  const now = filesIn(exercise.dir);
  const theirs = now.filter((file) => isLearners(file, committed));
  const backup = theirs.length > 0 ? backUp(exercise, theirs) : undefined;
  const added = now.filter((file) => !committed.has(file));
  for (const file of added) rmSync(path.join(exercise.dir, file));
  // Folders the learner made go too once empty, deepest first (a folder with files left stays).
  const folders = new Set<string>();
  for (let dir of added.map((file) => path.posix.dirname(file))) for (; dir !== '.'; dir = path.posix.dirname(dir)) folders.add(dir);
  for (const dir of [...folders].sort((a, b) => b.length - a.length)) {
    try {
      rmdirSync(path.join(exercise.dir, dir));
    } catch {
      // Not empty: it holds committed files.
    }
  }
  for (const [file, data] of committed) {
    mkdirSync(path.dirname(path.join(exercise.dir, file)), { recursive: true });
    writeFileSync(path.join(exercise.dir, file), data);
  }
  return backup;
}
