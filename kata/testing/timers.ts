import { createHook } from 'node:async_hooks';

/** What Node's Timeout objects carry: the delay they were set with, and whether they are done. */
interface TimeoutResource {
  _idleTimeout: number;
  _destroyed: boolean;
  hasRef(): boolean;
}

export interface TimerWatch {
  /**
   * The timers created since the watch began that are still pending and keep the process alive:
   * not fired, not cleared, not unref'd (as AbortSignal.timeout's is). Each by its delay in ms.
   */
  pending(): number[];
  stop(): void;
}

/**
 * Watches the timers this thread creates (setTimeout, setInterval, and those of timers/promises),
 * through Node's async hooks: code that leaves a timer behind is seen whatever it imported its
 * timer functions from, and the timers of others that existed before are not counted.
 */
export function watchTimers(): TimerWatch {
  const made: TimeoutResource[] = [];
  const hook = createHook({
    init(_id, type, _trigger, resource) {
      if (type === 'Timeout') made.push(resource as TimeoutResource);
    },
  }).enable();
  return {
    pending: () => made.filter((timer) => !timer._destroyed && timer.hasRef()).map((timer) => timer._idleTimeout),
    stop: () => hook.disable(),
  };
}
