import { isNotImplemented, within } from './deadline.ts';

export type Settled<T> = { status: 'fulfilled'; value: T } | { status: 'rejected'; reason: unknown };

/** Waits for `promise` and says how it settled, without throwing: for tests that look at both outcomes. */
export function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  return promise.then(
    (value) => ({ status: 'fulfilled', value }),
    (reason: unknown) => ({ status: 'rejected', reason }),
  );
}

/**
 * What `work` rejected with, waiting at most `ms`. Unlike `failureOf(() => within(...))`, a promise
 * that never settles fails the test with `neverSettled` instead of being taken for the rejection;
 * one that resolves fails it with `resolved`. A stub's not-implemented error is re-thrown.
 */
export async function rejectionOf(work: () => Promise<unknown>, ms: number, messages: { neverSettled: string; resolved: string }): Promise<unknown> {
  const outcome = await within(ms, settle(work()), messages.neverSettled);
  if (outcome.status === 'fulfilled') throw new Error(messages.resolved);
  if (isNotImplemented(outcome.reason)) throw outcome.reason;
  return outcome.reason;
}
