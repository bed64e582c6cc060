/**
 * Puts an exercise's stub back from git, after copying the learner's files to a backup.
 * Reads git's objects directly (`git show`), so the index and every other file stay as they are.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Exercise } from '../catalog.ts';
import { repoRoot, stateDir } from '../paths.ts';

const git = (args: string[]) => execFileSync('git', args, { cwd: repoRoot, encoding: 'buffer', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });

/** `exercises/01-async/01-gather`, as git names it. */
const folderOf = (exercise: Exercise) => `exercises/${exercise.folder}`;

/**
 * The newest commit whose copy of the exercise is still the stub (it throws "Not implemented
 * yet"): HEAD, unless the learner has committed their own work on top of it.
 */
export function committedStub(exercise: Exercise): string {
  let commits: string[];
  try {
    commits = git(['log', '--format=%H', '--', folderOf(exercise)]).toString().split('\n').filter(Boolean);
  } catch {
    throw new Error('reset needs git, and the kata as a git clone: git was not found, or this folder is not a clone.');
  }
  for (const commit of commits) {
    try {
      git(['grep', '--quiet', 'Not implemented yet', commit, '--', folderOf(exercise)]);
      return commit;
    } catch {
      // No stub in this commit: try an older one.
    }
  }
  throw new Error(`No commit in this clone has the stub of ${exercise.id} (${folderOf(exercise)}).`);
}

/** The committed files of the exercise at `commit`, relative to its folder, with their contents. */
export function committedFiles(exercise: Exercise, commit: string): Map<string, Buffer> {
  const names = git(['ls-tree', '-r', '--name-only', commit, '--', `${folderOf(exercise)}/`]).toString().split('\n').filter(Boolean);
  return new Map(names.map((name) => [path.posix.relative(folderOf(exercise), name), git(['show', `${commit}:${name}`])]));
}

/** Every file in the exercise's folder now, relative to it. */
function currentFiles(exercise: Exercise): string[] {
  return readdirSync(exercise.dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(exercise.dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'));
}

/** Files that differ from `committed` (changed, added, or deleted). Line endings count as no change. */
export function changedFiles(exercise: Exercise, committed: Map<string, Buffer>): string[] {
  const normal = (data: Buffer) => data.toString('utf8').replace(/\r\n/g, '\n');
  const now = currentFiles(exercise);
  const changed = now.filter((file) => {
    const before = committed.get(file);
    return before === undefined || normal(before) !== normal(readFileSync(path.join(exercise.dir, file)));
  });
  const deleted = [...committed.keys()].filter((file) => !now.includes(file));
  return [...changed, ...deleted].sort();
}

/**
 * Copies the whole folder to .kata/backups/<id>/<timestamp>/, then makes the folder exactly the
 * committed stub (files the learner added are removed: they are in the backup). Returns the backup.
 */
export function resetExercise(exercise: Exercise, committed: Map<string, Buffer>): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace('Z', '');
  const backup = path.join(stateDir, 'backups', exercise.id, stamp);
  mkdirSync(path.dirname(backup), { recursive: true });
  cpSync(exercise.dir, backup, { recursive: true });
  for (const file of currentFiles(exercise)) {
    if (!committed.has(file)) rmSync(path.join(exercise.dir, file));
  }
  for (const [file, data] of committed) {
    mkdirSync(path.dirname(path.join(exercise.dir, file)), { recursive: true });
    writeFileSync(path.join(exercise.dir, file), data);
  }
  return backup;
}
