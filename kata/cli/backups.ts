/**
 * The learner's files, kept by reset before it puts the stub back, and put back by restore.
 * `.kata/backups/<id>/<time>/` holds only what is the learner's: the exercise's code but its tests
 * and harnesses, and any file the committed stub does not have; never the kata's own README,
 * hints or tests, which git keeps.
 */
import { cpSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Exercise } from '../catalog.ts';
import { isTestOwned, stateDir } from '../paths.ts';
import { isCodeFile } from './progress.ts';

export interface Backup {
  dir: string;
  /** When it was made (from its folder's name). */
  at: Date;
  /** Its files, relative to the exercise's folder. */
  files: string[];
}

export function backupsOf(exercise: Exercise): string {
  return path.join(stateDir, 'backups', exercise.id);
}

/** Every file below `dir`, relative to it with forward slashes. */
export function filesIn(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .sort();
}

/** Whether the exercise's `file` is the learner's: their code, or a file the committed stub does not have. */
export function isLearners(file: string, committed: ReadonlyMap<string, unknown>): boolean {
  return !committed.has(file) || (isCodeFile(file) && !isTestOwned(file));
}

/** Copies `files` of the exercise to a new backup folder named after the time; returns the folder. */
export function backUp(exercise: Exercise, files: string[], at = new Date()): string {
  const dir = path.join(backupsOf(exercise), at.toISOString().replace(/[:.]/g, '-').replace('Z', ''));
  for (const file of files) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    cpSync(path.join(exercise.dir, file), path.join(dir, file));
  }
  return dir;
}

/** `2026-11-28T09-40-52-123` (UTC, as backUp names it) as a Date; anything else is not a backup. */
function madeAt(name: string): Date | undefined {
  const match = /^(\d{4}-\d\d-\d\d)T(\d\d)-(\d\d)-(\d\d)-(\d{3})$/.exec(name);
  return match ? new Date(`${match[1]}T${match[2]}:${match[3]}:${match[4]}.${match[5]}Z`) : undefined;
}

/** The newest backup of the exercise that holds a file, or undefined. */
export function latestBackup(exercise: Exercise): Backup | undefined {
  let names: string[];
  try {
    names = readdirSync(backupsOf(exercise));
  } catch {
    return undefined; // no backup folder: never reset
  }
  for (const name of names.sort().reverse()) {
    const at = madeAt(name);
    if (at === undefined) continue;
    const dir = path.join(backupsOf(exercise), name);
    const files = filesIn(dir);
    if (files.length > 0) return { dir, at, files };
  }
  return undefined;
}

/** Copies `files` from the backup into the exercise's folder, over what is there. */
export function restoreFiles(exercise: Exercise, backup: Backup, files: string[]): void {
  for (const file of files) {
    mkdirSync(path.dirname(path.join(exercise.dir, file)), { recursive: true });
    cpSync(path.join(backup.dir, file), path.join(exercise.dir, file));
  }
}
