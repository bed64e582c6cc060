// Loaded by tests and inside harness workers (to see what puts their thread to sleep): `node:` imports only.
import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { spyOnAtomics } from './atomics-spy.ts';

/**
 * The calls that put the calling thread to sleep until something else is done: `Atomics.wait`,
 * and the child_process functions that wait for their program (`execSync`, `execFileSync`,
 * `spawnSync`). On the event-loop thread each one stops the loop for as long as it sleeps, and
 * uses no CPU meanwhile, so a watch of the thread's CPU time cannot see it; this records them.
 */
export interface SleepingCalls {
  /** `Atomics.wait`, `child_process.execFileSync`, ... in the order they were called on this thread. */
  readonly calls: string[];
  stop(): void;
}

const waitingFunctions = ['execSync', 'execFileSync', 'spawnSync'] as const;

/**
 * Records the sleeping calls made on this thread until `stop()`. The child_process functions are
 * replaced by recording wrappers that call the real ones, for `import { execFileSync } from
 * 'node:child_process'` too (syncBuiltinESMExports updates the named exports).
 */
export function watchSleepingCalls(): SleepingCalls {
  const calls: string[] = [];
  const restoreAtomics = spyOnAtomics((name, _args, proceed) => {
    if (name === 'wait') calls.push('Atomics.wait');
    return proceed();
  });
  const module = childProcess as unknown as Record<string, (...args: unknown[]) => unknown>;
  const originals = waitingFunctions.map((name) => module[name]!);
  waitingFunctions.forEach((name, index) => {
    module[name] = (...args: unknown[]) => {
      calls.push(`child_process.${name}`);
      return originals[index]!(...args);
    };
  });
  syncBuiltinESMExports();
  return {
    calls,
    stop() {
      restoreAtomics();
      waitingFunctions.forEach((name, index) => {
        module[name] = originals[index]!;
      });
      syncBuiltinESMExports();
    },
  };
}
