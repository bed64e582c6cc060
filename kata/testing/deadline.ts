import { isNotImplemented } from '../inside/not-implemented.ts';
import { measured } from './measure.ts';

/** What `within` throws when the work did not finish in time. */
export class DeadlineExceeded extends Error {
  override name = 'DeadlineExceeded';
}

/** A mistake in the test itself (a deadline that cannot fit), never the learner's: no test explains it away. */
export class TestBug extends Error {
  override name = 'TestBug';
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

/** What within() needs of Vitest's running test: its timeout, and whether its function has ended. */
export interface RunningTest {
  name: string;
  timeout: number;
  result?: { state: string };
}

/** The running test and when it started (set by kata/vitest/setup.ts). */
let running: { test: RunningTest; started: number } | undefined;

export function startTestBudget(test: RunningTest): void {
  running = { test, started: performance.now() };
}

export function endTestBudget(): void {
  running = undefined;
}

/** The running test while its function runs; undefined between tests and in its afterEach hooks (a verdict is set then). */
export function testInProgress(): RunningTest | undefined {
  return running?.test.result?.state === 'run' ? running.test : undefined;
}

/** The test's timeout and start while its function runs; its afterEach hooks have their own timeout. */
function testBudget(): { timeoutMs: number; started: number; name: string } | undefined {
  const test = testInProgress();
  return test && { timeoutMs: test.timeout, started: running!.started, name: test.name };
}

/** Room kept after a deadline, for the test's own clean-up before Vitest's timeout. */
const cleanupRoomMs = 1_000;

/**
 * Waits for `work`, but gives up after `ms` with `message`: a learner's deadlock or forgotten
 * resolve becomes a failed test that says what was being waited for, not a bare runner timeout.
 * A deadline longer than the test's own timeout is a mistake in the test, refused at once; one
 * that no longer fits in what is left of the test (the machine was slow so far) is shortened.
 */
export async function within<T>(ms: number, work: Promise<T>, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const started = performance.now();
  const wanted = ms;
  const budget = testBudget();
  if (budget !== undefined) {
    if (ms > budget.timeoutMs - cleanupRoomMs) {
      work.catch(() => {});
      throw new TestBug(
        `Test bug: within(${ms} ms) in "${budget.name}" cannot end before the test's own timeout of ${budget.timeoutMs} ms ` +
          `(with ${cleanupRoomMs} ms kept for clean-up): give the test a timeout of at least ${ms + cleanupRoomMs} ms, or wait less.`,
      );
    }
    ms = Math.min(ms, Math.max(0, budget.timeoutMs - cleanupRoomMs - (started - budget.started)));
  }
  let expired = false;
  // How close right answers come to the deadline, for CONTRIBUTING's table (see measure.ts); what
  // settles after it (an executor shut down by the test's cleanup) was judged by the deadline.
  const settled = () => expired || measured(`deadline ${wanted} ms: ${message.slice(0, 70)}`, performance.now() - started, wanted);
  work.then(settled, settled);
  const gaveUp = new Promise<never>((_, reject) => {
    // A deadline that passed only because a loop held the thread reports the loop instead.
    timer = setTimeout(() => {
      expired = true;
      const shortened = ms < wanted ? `, all that was left of the test's ${budget?.timeoutMs} ms` : '';
      reject(takeStall() ?? new DeadlineExceeded(`${message} (gave up after ${Math.round(ms)} ms${shortened})`));
    }, ms);
  });
  try {
    return await Promise.race([work, gaveUp]);
  } finally {
    clearTimeout(timer);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `condition` every `everyMs` for at most `ms`, and says whether it came true. `check` runs
 * before each look, so that a failure seen meanwhile (a worker's error, a stub's) is thrown at once.
 */
export async function until(condition: () => boolean, ms: number, { everyMs = 5, check }: { everyMs?: number; check?: () => void } = {}): Promise<boolean> {
  const deadline = performance.now() + ms;
  for (;;) {
    check?.();
    if (condition()) return true;
    if (performance.now() > deadline) return false;
    await sleep(everyMs);
  }
}

/** A stub's error; its home is kata/inside/not-implemented.ts, which harness workers load too. */
export { isNotImplemented };

/**
 * Resolves with what the promise `work` returns rejected with; fails with `message` if it resolved
 * instead, and with its own message if `work` threw before returning a promise.
 * A stub's not-implemented error and a deadline that ran out (a hang) are never the failure a
 * test is waiting for, so they are re-thrown with their own messages.
 */
export async function failureOf(work: () => unknown, message: string): Promise<unknown> {
  let promise: unknown;
  try {
    promise = work();
  } catch (error) {
    if (isNotImplemented(error) || error instanceof DeadlineExceeded || error instanceof TestBug) throw error;
    // A function that returns a promise reports failure by rejecting it: a caller who writes
    // `.catch()` or `.then(onDone, onError)` never sees an error thrown before the promise exists.
    const what = error instanceof Error ? error.message : String(error);
    throw new Error(
      `The call threw "${what}" at once, instead of returning a promise that rejects with it. Make the function async, or return Promise.reject(error).`,
      { cause: error },
    );
  }
  try {
    await promise;
  } catch (error) {
    if (isNotImplemented(error) || error instanceof DeadlineExceeded || error instanceof TestBug) throw error;
    return error;
  }
  throw new Error(message);
}

/** A value or an error as a message shows it: `TypeError: "what it said"`, or the value as JSON. */
export function shownReason(reason: unknown): string {
  if (reason instanceof Error || reason instanceof DOMException) return `${reason.name}: "${reason.message.split('\n')[0]}"`;
  return JSON.stringify(reason) ?? String(reason);
}

/**
 * What `work` resolves with, waiting at most `ms` (failing with `hung` if it never settles). Where
 * it rejects although the test expected a value, the test fails with `whenRejected(reason)`: what
 * the test expected at that point and what it saw, with the learner's error kept as the cause, never
 * that error alone. A stub's error, a deadline and a test's own bug keep their messages.
 */
export async function valueWithin<T>(ms: number, work: Promise<T>, hung: string, whenRejected: (reason: unknown) => string): Promise<T> {
  try {
    return await within(ms, work, hung);
  } catch (error) {
    if (isNotImplemented(error) || error instanceof DeadlineExceeded || error instanceof TestBug) throw error;
    throw new Error(whenRejected(error), { cause: error });
  }
}

/**
 * What `work` rejected with, waiting at most `ms`: fails with `messages.hung` if it never
 * settles and with `messages.resolved` if it succeeds.
 */
export function failureWithin(ms: number, work: () => Promise<unknown>, messages: { hung: string; resolved: string }): Promise<unknown> {
  return failureOf(() => within(ms, work(), messages.hung), messages.resolved);
}
