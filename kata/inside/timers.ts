// Loaded by tests and inside harness workers (watchTimerCalls, in one the test may terminate mid-loop): `node:` imports only.
import { createHook } from 'node:async_hooks';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';
import timers from 'node:timers';
import timersPromises from 'node:timers/promises';
import { isTestOwned, targetDir } from './target.ts';

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
  stop(): void;
}

/** What a timer watch without async hooks can also tell: how often the code under test's timers have fired. */
export interface TimerCallWatch extends TimerWatch {
  /**
   * How many times the timers and immediates the code under test created since the watch began
   * have fired (each firing of an interval counts; for node:timers/promises, each resolution):
   * code that looks again and again (polls) fires them, code that waits to be told fires none.
   */
  fired(): number;
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
 * those of timers/promises), through Node's async hooks: code that leaves a timer behind is seen
 * whatever it imported its timer functions from. Timers that existed before are not counted, nor
 * those made where the stack does not pass through the target's own files (the tests' helpers,
 * the loopback server, Node's HTTP client: a right answer was once blamed for a 100 ms timer of
 * none of its lines).
 */
export function watchTimers(): TimerWatch {
  const made: TimeoutResource[] = [];
  const root = path.resolve(targetDir()) + path.sep;
  const hook = createHook({
    init(_id, type, _trigger, resource) {
      if (type !== 'Timeout') return;
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 50;
      const stack = new Error().stack ?? '';
      Error.stackTraceLimit = limit;
      if (fromCodeUnderTest(stack, root)) made.push(resource as TimeoutResource);
    },
  }).enable();
  return {
    pending: () => made.filter((timer) => !timer._destroyed && timer.hasRef()).map((timer) => timer._idleTimeout),
    stop: () => hook.disable(),
  };
}

type AnyFunction = (...args: unknown[]) => unknown;

/**
 * Watches the timers the code under test creates on this thread, as watchTimers() does, but by
 * wrapping the timer functions (the globals, node:timers and node:timers/promises, its scheduler
 * too) instead of async hooks, and counts their firings as well. For a thread that may have to be
 * stopped while it loops in microtasks: with async hooks on (their promise hooks), worker.terminate()
 * on such a thread hung for minutes in several of 5 tries (Node 22.18), and without them it never did.
 * Install it before the code under test is imported; `stop()` puts the real functions back.
 */
export function watchTimerCalls(): TimerCallWatch {
  const root = path.resolve(targetDir()) + path.sep;
  const fromTarget = () => {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 50;
    const stack = new Error().stack ?? '';
    Error.stackTraceLimit = limit;
    return fromCodeUnderTest(stack, root);
  };
  const made: Array<{ pending: () => boolean; delay: number }> = [];
  let fired = 0;
  const counting = (callback: AnyFunction) =>
    function (this: unknown, ...args: unknown[]) {
      fired += 1;
      return callback.apply(this, args);
    };
  // setTimeout, setInterval, setImmediate: the real one, with a callback that counts its firings.
  const callbackTimer = (real: AnyFunction, keeps: boolean) =>
    function (this: unknown, callback: unknown, ...rest: unknown[]) {
      if (typeof callback !== 'function' || !fromTarget()) return real.call(this, callback, ...rest);
      const handle = real.call(this, counting(callback as AnyFunction), ...rest) as TimeoutResource;
      if (keeps) made.push({ pending: () => !handle._destroyed && handle.hasRef(), delay: handle._idleTimeout });
      return handle;
    };
  // timers/promises' setTimeout and setImmediate (and scheduler.wait/yield): a firing is a resolution.
  const promiseTimer = (real: AnyFunction, keeps: boolean, optionsAt: number) =>
    function (this: unknown, ...args: unknown[]) {
      if (!fromTarget()) return real.apply(this, args);
      let settled = false;
      const options = args[optionsAt] as { ref?: boolean } | undefined;
      if (keeps) made.push({ pending: () => !settled && options?.ref !== false, delay: Number(args[0] ?? 1) });
      return (real.apply(this, args) as Promise<unknown>).then(
        (value) => {
          settled = true;
          fired += 1;
          return value;
        },
        (error: unknown) => {
          settled = true;
          throw error;
        },
      );
    };
  // timers/promises' setInterval: an async iterator, each value a firing.
  const promiseInterval = (real: AnyFunction) =>
    function (this: unknown, ...args: unknown[]) {
      const iterator = real.apply(this, args) as AsyncIterator<unknown> & AsyncIterable<unknown>;
      if (!fromTarget()) return iterator;
      let done = false;
      made.push({ pending: () => !done, delay: Number(args[0] ?? 1) });
      const next = iterator.next.bind(iterator);
      const end = iterator.return?.bind(iterator);
      iterator.next = async (...values: [] | [unknown]) => {
        const result = await next(...values);
        if (result.done) done = true;
        else fired += 1;
        return result;
      };
      if (end) {
        iterator.return = (value?: unknown) => {
          done = true;
          return end(value);
        };
      }
      return iterator;
    };

  const global = globalThis as unknown as Record<string, AnyFunction>;
  const module = timers as unknown as Record<string, AnyFunction>;
  const promises = timersPromises as unknown as Record<string, AnyFunction>;
  const scheduler = (timersPromises as unknown as { scheduler?: Record<string, AnyFunction> }).scheduler;
  const restore: Array<() => void> = [];
  const replace = (owner: Record<string, AnyFunction> | undefined, name: string, wrap: (real: AnyFunction) => AnyFunction) => {
    const real = owner?.[name];
    if (!owner || typeof real !== 'function') return;
    owner[name] = wrap(real);
    restore.push(() => (owner[name] = real));
  };
  // The globals and node:timers' exports are the same functions: one wrapper serves both.
  for (const [name, keeps] of [
    ['setTimeout', true],
    ['setInterval', true],
    ['setImmediate', false],
  ] as const) {
    const real = global[name]!;
    const wrapped = callbackTimer(real, keeps);
    for (const owner of [global, module]) {
      const before = owner[name]!;
      owner[name] = before === real ? wrapped : callbackTimer(before, keeps);
      restore.push(() => (owner[name] = before));
    }
  }
  // (delay, value, options), (value, options), (delay, options), ().
  replace(promises, 'setTimeout', (real) => promiseTimer(real, true, 2));
  replace(promises, 'setImmediate', (real) => promiseTimer(real, false, 1));
  replace(promises, 'setInterval', promiseInterval);
  replace(scheduler, 'wait', (real) => promiseTimer(real.bind(scheduler), true, 1));
  replace(scheduler, 'yield', (real) => promiseTimer(real.bind(scheduler), false, 0));
  // `import { setTimeout } from 'node:timers/promises'` sees the wrappers too.
  syncBuiltinESMExports();
  return {
    pending: () => made.filter((timer) => timer.pending()).map((timer) => timer.delay),
    fired: () => fired,
    stop: () => {
      for (const undo of restore.reverse()) undo();
      syncBuiltinESMExports();
    },
  };
}
