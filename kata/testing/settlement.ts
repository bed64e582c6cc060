import { isNotImplemented } from './deadline.ts';

/** How a promise settled, in the shape of Promise.allSettled's entries. */
export type Settled<T> = { status: 'fulfilled'; value: T } | { status: 'rejected'; reason: unknown };

/** Waits for `promise` and says how it settled, without throwing: for tests that look at both outcomes. */
export function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  return promise.then(
    (value) => ({ status: 'fulfilled', value }),
    (reason: unknown) => ({ status: 'rejected', reason }),
  );
}

/** How a promise had settled by a deadline; `atMs` is when, in ms after the moment given. */
export type Settlement<T> = { state: 'resolved'; value: T; atMs: number } | { state: 'rejected'; reason: unknown; atMs: number } | { state: 'pending' };

/**
 * How `promise` settled within `ms`, and when (ms after `since`), for a test that judges a
 * rejection or a hang rather than failing on it. A stub's error is re-thrown, so that a stub's test
 * fails with it. The timer is cleared as soon as the promise settles: tests that count the
 * pending timers of the code under test never see it.
 */
export async function settlementWithin<T>(promise: Promise<T>, ms: number, since = performance.now()): Promise<Settlement<T>> {
  let timer: NodeJS.Timeout | undefined;
  const settlement = await Promise.race([
    promise.then(
      (value): Settlement<T> => ({ state: 'resolved', value, atMs: performance.now() - since }),
      (reason: unknown): Settlement<T> => ({ state: 'rejected', reason, atMs: performance.now() - since }),
    ),
    new Promise<Settlement<T>>((resolve) => (timer = setTimeout(() => resolve({ state: 'pending' }), ms))),
  ]);
  clearTimeout(timer);
  if (settlement.state === 'rejected' && isNotImplemented(settlement.reason)) throw settlement.reason;
  return settlement;
}
