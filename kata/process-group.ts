/**
 * Children the tools start for a long job (a verify lane, a whole verify under stress) run in a
 * process group of their own, with a deadline: one that overruns is stopped with everything it
 * started, Vitest's test processes and the learner's children included, and reported by name.
 */
import { type ChildProcess, spawn, type SpawnOptions } from 'node:child_process';

export interface Group {
  child: ChildProcess;
  /** Signals the whole group (the child and everything it started that stayed in it). */
  kill(signal: NodeJS.Signals): void;
}

/** Spawns `command` as the leader of a new process group (POSIX: its pgid is its pid). */
export function spawnGroup(command: string, args: string[], options: SpawnOptions): Group {
  const child = spawn(command, args, { ...options, detached: true });
  return {
    child,
    kill(signal) {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // The group is gone already, or never started.
        child.kill(signal);
      }
    },
  };
}

export interface Deadline {
  /** Whether it passed (and `overran` was called). */
  readonly expired: boolean;
  cancel(): void;
}

/** Calls `overran` once `ms` have passed, unless cancelled first. */
export function deadline(ms: number, overran: () => void): Deadline {
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    overran();
  }, ms);
  timer.unref();
  return {
    get expired() {
      return expired;
    },
    cancel: () => clearTimeout(timer),
  };
}

/** Minutes from an environment variable (for the tools' own tests), or the default. */
export function minutesFromEnv(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}
