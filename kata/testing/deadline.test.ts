import { describe, expect, test } from 'vitest';
import { notImplementedText } from '../inside/not-implemented.ts';
import { DeadlineExceeded, shownReason, TestBug, valueWithin } from './deadline.ts';

const explained = (reason: unknown) => `the call rejected with ${shownReason(reason)} where the test expected a value`;

describe('valueWithin', () => {
  test('resolves with the value', async () => {
    await expect(valueWithin(1_000, Promise.resolve(42), 'never settled', explained)).resolves.toBe(42);
  });

  test("a rejection becomes the test's explanation, with the learner's error kept as its cause", async () => {
    const learners = new TypeError('x is not a function');
    const failure = await valueWithin(1_000, Promise.reject(learners), 'never settled', explained).catch((error: unknown) => error as Error);
    expect(failure.message).toBe('the call rejected with TypeError: "x is not a function" where the test expected a value');
    expect(failure.cause).toBe(learners);
  });

  test("a stub's error, a deadline and a test's own bug keep their own messages", async () => {
    const stub = new Error(`${notImplementedText}: f() in exercises/x/y.ts`);
    await expect(valueWithin(1_000, Promise.reject(stub), 'never settled', explained)).rejects.toBe(stub);
    await expect(valueWithin(50, new Promise(() => {}), 'never settled', explained)).rejects.toBeInstanceOf(DeadlineExceeded);
    const bug = new TestBug('Test bug: a deadline that cannot fit');
    await expect(valueWithin(1_000, Promise.reject(bug), 'never settled', explained)).rejects.toBe(bug);
  });
});

test('shownReason shows an error by its name and first line, anything else as JSON', () => {
  expect(shownReason(new RangeError('too big\nat line 2'))).toBe('RangeError: "too big"');
  expect(shownReason({ code: 3 })).toBe('{"code":3}');
  expect(shownReason(undefined)).toBe('undefined');
});
