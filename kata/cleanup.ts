/**
 * The tools' temporary files (verify's fixture copies, plan files, a smoke run's folder) go away
 * however the tool ends: normally, on Ctrl-C, or on SIGTERM. Their names carry the pid of the
 * run that made them, so what a killed run (SIGKILL, a crash) left behind is swept by the next.
 */
import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stateDir } from './paths.ts';

const cleanups = new Set<() => void>();
let installed = false;

function cleanUpAll(): void {
  for (const cleanup of cleanups) {
    try {
      cleanup();
    } catch {
      // One cleanup failing must not keep the others from running.
    }
  }
  cleanups.clear();
}

/** Runs `cleanup` when the process ends, Ctrl-C and SIGTERM included. Returns a function that forgets it. */
export function cleanUpOnExit(cleanup: () => void): () => void {
  if (!installed) {
    installed = true;
    process.on('exit', cleanUpAll);
    // Node's default for these signals ends the process without an 'exit' event: exit instead.
    process.on('SIGINT', () => process.exit(130));
    process.on('SIGTERM', () => process.exit(143));
  }
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/** Whether a process with this pid is running (EPERM: it is, as another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Names of what a run leaves while it works, each with the pid of that run. */
const leftovers = {
  // .kata/verify-123/, .kata/plan-123.json, .kata/ui-check-plan-123.json, .kata/ui-check-exercises-123/,
  // .kata/ui-check-state-123/, .kata/progress.json.123.tmp
  state: /^(?:verify-(\d+)|plan-(\d+)\.json|ui-check-plan-(\d+)\.json|ui-check-(?:exercises|state)-(\d+)|progress\.json\.(\d+)\.tmp)$/,
  // $TMPDIR/kata-bench-quick-123-XXXXXX (kata/checks/bench-quick.ts)
  temporary: /^kata-bench-quick-(\d+)-/,
};

/** Removes what runs that are no longer alive left in `.kata` and the system's temporary folder; returns what it removed. */
export function sweepLeftovers(dirs = { state: stateDir, temporary: tmpdir() }): string[] {
  const removed: string[] = [];
  for (const kind of ['state', 'temporary'] as const) {
    let names: string[];
    try {
      names = readdirSync(dirs[kind]);
    } catch {
      continue; // no .kata yet: nothing to sweep
    }
    for (const name of names) {
      const match = leftovers[kind].exec(name);
      const pid = Number(match?.slice(1).find((group) => group !== undefined));
      if (!match || pid === process.pid || isAlive(pid)) continue;
      try {
        rmSync(path.join(dirs[kind], name), { recursive: true, force: true });
        removed.push(path.join(dirs[kind], name));
      } catch {
        // Not ours to remove after all (another user's, a read-only folder): leave it.
      }
    }
  }
  return removed;
}
