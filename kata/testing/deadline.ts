import { measured } from './measure.ts';

/** What `within` throws when the work did not finish in time. */
export class DeadlineExceeded extends Error {
  override name = 'DeadlineExceeded';
}

/** A test's code held the thread for seconds: the watchdog (kata/vitest/watchdog.ts) stopped it. */
export class ThreadStalled extends DeadlineExceeded {
  override name = 'ThreadStalled';
}

const stallKey = Symbol.for('concurrency-kata.stall');
const slot = globalThis as { [stallKey]?: ThreadStalled };

/** The watchdog leaves its error here, synchronously, just before it stops the loop. */
export function reportStall(error: ThreadStalled): void {
  slot[stallKey] = error;
}

/** The watchdog's error, once: whoever notices first after the loop is stopped fails the test. */
export function takeStall(): ThreadStalled | undefined {
  const error = slot[stallKey];
  slot[stallKey] = undefined;
  return error;
}

/**
 * Waits for `work`, but gives up after `ms` with `message`: a learner's deadlock or forgotten
 * resolve becomes a failed test that says what was being waited for, not a bare runner timeout.
 */
export async function within<T>(ms: number, work: Promise<T>, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const started = performance.now();
  let expired = false;
  // How close right answers come to the deadline, for CONTRIBUTING's table (see measure.ts); what
  // settles after it (an executor shut down by the test's cleanup) was judged by the deadline.
  const settled = () => expired || measured(`deadline ${ms} ms: ${message.slice(0, 70)}`, performance.now() - started, ms);
  work.then(settled, settled);
  const gaveUp = new Promise<never>((_, reject) => {
    // A deadline that passed only because a loop held the thread reports the loop instead.
    timer = setTimeout(() => {
      expired = true;
      reject(takeStall() ?? new DeadlineExceeded(`${message} (gave up after ${ms} ms)`));
    }, ms);
  });
  try {
    return await Promise.race([work, gaveUp]);
  } finally {
    clearTimeout(timer);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A stub's error: every exercise function throws one until the learner implements it. */
export function isNotImplemented(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('Not implemented yet');
}

/**
 * Resolves with what `work` threw or rejected with; fails with `message` if it succeeded instead.
 * A stub's not-implemented error and a deadline that ran out (a hang) are never the failure a
 * test is waiting for, so they are re-thrown with their own messages.
 */
export async function failureOf(work: () => unknown, message: string): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    if (isNotImplemented(error) || error instanceof DeadlineExceeded) throw error;
    return error;
  }
  throw new Error(message);
}

/**
 * What `work` rejected with, waiting at most `ms`: fails with `messages.hung` if it never
 * settles and with `messages.resolved` if it succeeds.
 */
export function failureWithin(ms: number, work: () => Promise<unknown>, messages: { hung: string; resolved: string }): Promise<unknown> {
  return failureOf(() => within(ms, work(), messages.hung), messages.resolved);
}
