import { createHook } from 'node:async_hooks';
import path from 'node:path';
import { isTestOwned } from '../paths.ts';
import { targetDir } from './target.ts';

/** What Node's Timeout objects carry: the delay they were set with, and whether they are done. */
interface TimeoutResource {
  _idleTimeout: number;
  _destroyed: boolean;
  hasRef(): boolean;
}

export interface TimerWatch {
  /**
   * The timers the code under test created since the watch began that are still pending and keep the process alive:
   * not fired, not cleared, not unref'd (as AbortSignal.timeout's is). Each by its delay in ms.
   */
  pending(): number[];
  /**
   * How many times the callbacks of the timers (each firing of an interval counts) and of the
   * immediates (`setImmediate`) the code under test created since the watch began have run: code
   * that looks again and again (polls) runs them; code that waits to be told runs none.
   */
  fired(): number;
  stop(): void;
}

/** Whether a call stack passes through the code under test: a file of the target that is not the tests' own. */
function fromCodeUnderTest(stack: string, root: string): boolean {
  return stack.split('\n').some((frame) => {
    const file = /(?:file:\/\/)?(\/[^\s():?]+)/.exec(frame)?.[1];
    return file?.startsWith(root) && !isTestOwned(file);
  });
}

/**
 * Watches the timers the code under test creates on this thread (setTimeout, setInterval, and
 * those of timers/promises; and setImmediate, for `fired()` only), through Node's async hooks: code that leaves a timer behind is seen
 * whatever it imported its timer functions from. Timers that existed before are not counted, nor
 * those made where the stack does not pass through the target's own files (the tests' helpers,
 * the loopback server, Node's HTTP client: a right answer was once blamed for a 100 ms timer of
 * none of its lines).
 */
export function watchTimers(): TimerWatch {
  const made: TimeoutResource[] = [];
  /** The async ids of the code under test's timers and immediates, for counting their callbacks. */
  const ours = new Set<number>();
  let fired = 0;
  const root = path.resolve(targetDir()) + path.sep;
  const hook = createHook({
    init(id, type, _trigger, resource) {
      if (type !== 'Timeout' && type !== 'Immediate') return;
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 50;
      const stack = new Error().stack ?? '';
      Error.stackTraceLimit = limit;
      if (!fromCodeUnderTest(stack, root)) return;
      ours.add(id);
      if (type === 'Timeout') made.push(resource as TimeoutResource);
    },
    before(id) {
      if (ours.has(id)) fired += 1;
    },
    destroy(id) {
      ours.delete(id);
    },
  }).enable();
  return {
    pending: () => made.filter((timer) => !timer._destroyed && timer.hasRef()).map((timer) => timer._idleTimeout),
    fired: () => fired,
    stop: () => hook.disable(),
  };
}
