import { isNotImplemented } from './deadline.ts';

/** How a promise had settled by a deadline; `atMs` is when, in ms after the moment given. */
export type Outcome<T> = { state: 'resolved'; value: T; atMs: number } | { state: 'rejected'; reason: unknown; atMs: number } | { state: 'pending' };

/**
 * How `promise` settled within `ms`, and when (ms after `since`), for a test that judges a
 * rejection or a hang rather than failing on it. A stub's error is re-thrown, so that a stub's test
 * fails with it. The timer is cleared as soon as the promise settles: tests that count the
 * pending timers of the code under test never see it.
 */
export async function outcomeWithin<T>(promise: Promise<T>, ms: number, since = performance.now()): Promise<Outcome<T>> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    promise.then(
      (value): Outcome<T> => ({ state: 'resolved', value, atMs: performance.now() - since }),
      (reason: unknown): Outcome<T> => ({ state: 'rejected', reason, atMs: performance.now() - since }),
    ),
    new Promise<Outcome<T>>((resolve) => (timer = setTimeout(() => resolve({ state: 'pending' }), ms))),
  ]);
  clearTimeout(timer);
  if (outcome.state === 'rejected' && isNotImplemented(outcome.reason)) throw outcome.reason;
  return outcome;
}
