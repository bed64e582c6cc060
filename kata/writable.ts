/**
 * Folders the tools write to (.kata/ for progress, backups and verify's copies; the bench's
 * results), checked before the work starts: one that cannot be written (read-only, another
 * user's, a file where the folder should be) gets one line naming it and the fix, never a stack trace.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sweepLeftovers } from './cleanup.ts';
import { stateDir } from './paths.ts';

/** A folder that cannot be written; the message is the one line to print. */
export class NotWritable extends Error {}

export const stateDirFix = 'make it a folder you can write to (e.g. sudo chown -R "$USER" .kata), or move it away: it holds only the kata\'s own state';

/** A path as the user would type it: relative to where they are, unless that climbs out. */
export function shownPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative === '' ? '.' : relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}

/** The one line for `error`, met while writing in `dir`: "Cannot write to .kata/ (EACCES: permission denied): <fix>". */
export function notWritableMessage(dir: string, error: unknown, fix = stateDirFix): string {
  // Node's message is "EACCES: permission denied, mkdir '/x/.kata'": the part before the comma says what went wrong.
  const what = (error as Error).message?.split(',')[0] ?? String(error);
  return `Cannot write to ${shownPath(dir)}/ (${what}): ${fix}.`;
}

/** Creates `dir` if need be and writes a file in it; throws NotWritable when either fails. */
export function ensureWritable(dir: string, fix = stateDirFix): void {
  try {
    mkdirSync(dir, { recursive: true });
    const probe = path.join(dir, `.write-test-${process.pid}`);
    writeFileSync(probe, '');
    rmSync(probe);
  } catch (error) {
    throw new NotWritable(notWritableMessage(dir, error, fix));
  }
}

/** For verify and stress, before any work: .kata must be writable (else one line, exit 1); what dead runs left there goes. */
export function prepareStateDir(): void {
  try {
    ensureWritable(stateDir);
  } catch (error) {
    if (!(error instanceof NotWritable)) throw error;
    console.error(error.message);
    process.exit(1);
  }
  sweepLeftovers();
}
