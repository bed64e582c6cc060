import { describe, expect, test } from 'vitest';
import { failureOf, shownReason, sleep, Timeline, valueWithin, within } from '#kata/testing/index.ts';
import { Account } from './account.harness.ts';
import { Mutex, type Release, Semaphore } from './async-lock.ts';

/** Lets everything already scheduled run: queued callbacks, and a lock that polls on a short timer. */
const settle = async () => {
  await sleep(10);
  for (let turn = 0; turn < 5; turn += 1) await new Promise<void>((resolve) => setImmediate(resolve));
};

/**
 * Runs every promise callback and process.nextTick callback that is queued or gets queued, for many
 * rounds, but lets no timer and no setImmediate run: what happens here happens "at once".
 */
async function onlyQueuedCallbacks() {
  for (let round = 0; round < 20; round += 1) {
    await new Promise<void>((resolve) => process.nextTick(resolve));
    await Promise.resolve();
  }
}

function notWokenMessage(what: string, later: boolean): string {
  return (
    `After the holder released ${what}, the waiting caller was still waiting once every queued promise callback and ` +
    `process.nextTick callback had run: no timer and no setImmediate had run yet, and ${later ? 'it got in only after one did' : 'it did not get in within a second'}. ` +
    'So it was not the release that let it in: it was a timer or a poll (await sleep(...), setTimeout, setImmediate) that looked again. ' +
    "No polling, no timers: the release itself must resolve the oldest waiter's promise."
  );
}

/**
 * Queues `acquire()` behind holders that keep every place taken, gives one place back, and
 * checks that the waiter was let in by that release itself, before any timer or poll could run.
 */
async function expectLetInAtOnce(acquire: () => Promise<Release>, giveBack: Release, what: string, stillHeld: string): Promise<void> {
  let got = false;
  const waiting = acquire().then((release) => ((got = true), release));
  await settle();
  expect(got, stillHeld).toBe(false);
  giveBack();
  await onlyQueuedCallbacks();
  const atOnce = got;
  const release = await Promise.race([waiting, sleep(1_000).then(() => undefined)]);
  release?.();
  expect(atOnce, notWokenMessage(what, release !== undefined)).toBe(true);
}

/**
 * What `work`, a call that asks for the lock or a permit (`called`, as the test made it), resolves
 * with: its release function. Nothing in these tests makes asking fail (a caller waits until it
 * gets in), so a rejection fails the test in its own words, unless it is the stub's or a deadline's.
 */
function granted(ms: number, work: Promise<Release>, hung: string, called: string): Promise<Release> {
  return valueWithin(
    ms,
    work,
    hung,
    (reason) =>
      `${called} rejected with ${shownReason(reason)}, but asking for the lock or a permit has no way to fail here: the caller waits ` +
      'until it gets in, and then it should resolve with its release function.',
  );
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Ten deposits of 10 that all start at once on a fresh account, with no lock: the race itself. */
async function balanceWithoutLock(): Promise<number> {
  const account = new Account();
  await Promise.all(range(10).map(() => account.deposit(10)));
  return account.balance();
}

/**
 * The FIFO scenario for a mutex or a semaphore: `holders` callers hold it, A to D queue up, then one
 * holder releases and, in that same instant, a fifth caller E asks. Records who got in, in order.
 */
async function queueScenario(acquire: () => Promise<Release>, holders: number, asked: string) {
  const timeline = new Timeline();
  const held: Array<() => void> = [];
  for (let i = 1; i <= holders; i += 1) {
    const release = await granted(1_000, acquire(), 'a free lock was never handed out', `${asked}, asked by holder ${i} of ${holders} while there was room,`);
    const end = timeline.begin(`holder ${i}`);
    held.push(() => (end(), release()));
  }
  const order: string[] = [];
  const take = (name: string) =>
    acquire().then(async (release) => {
      order.push(name);
      await timeline.run(name, () => sleep(5));
      release();
    });
  const turns = ['A', 'B', 'C', 'D'].map(take);
  await settle();
  const whileHeld = [...order];
  held.shift()!();
  turns.push(take('E'));
  await valueWithin(
    2_000,
    Promise.all(turns),
    `the waiting callers never all got in (in so far: ${order.join(', ')})`,
    (reason) =>
      `A waiting caller's ${asked} (callers A to E, each holding it 5 ms, then calling its release) failed with ${shownReason(reason)}, ` +
      'but asking has no way to fail here (the caller waits until it gets in) and the test throws nothing while it holds it: ' +
      'each should have got in, in turn.',
  );
  for (const release of held) release();
  return { order, whileHeld, timeline };
}

/** Who was inside, the first moment more than `allowed` callers were. */
function firstCrowd(timeline: Timeline, allowed: number): string[] {
  for (const span of [...timeline.spans].sort((a, b) => a.start - b.start)) {
    const inside = timeline.spans.filter((other) => other.start <= span.start && (other.end === undefined || other.end > span.start));
    if (inside.length > allowed) return inside.map((other) => other.label);
  }
  return [];
}

function overlapMessage(what: string, allowed: number, timeline: Timeline): string {
  const crowd = firstCrowd(timeline, allowed);
  const waiters = crowd.filter((label) => ['A', 'B', 'C', 'D'].includes(label));
  const holders = crowd.filter((label) => label.startsWith('holder'));
  const story =
    holders.length > 0
      ? `${[...waiters, ...crowd.filter((label) => label === 'E')].join(' and ')} went in while ${holders.join(' and ')} still held ${what}: nothing kept them out.`
      : crowd.includes('E') && waiters.length > 0
        ? `E, which asked just as a holder released, went in together with ${waiters.join(' and ')}, who had been waiting: the release woke a ` +
          `waiter and left ${what} free for E as well. A waiter that checks before an await and takes after it takes without looking again; ` +
          `take in the same step as you check, or let the release hand ${what} straight to one waiter.`
        : `${waiters.join(', ')}, all of them waiting, went in together: one release let more than one waiter in. Hand each release to one waiter only.`;
  return `${timeline.maxInFlight} callers held ${what} at the same time (allowed: ${allowed}). ${story}\n${timeline.toText()}\n`;
}

function fifoMessage(order: string[], timeline: Timeline): string {
  const jumped = order[0] === 'E';
  return (
    `Callers got in as ${order.join(', ')}; they asked as A, B, C, D, then E. ` +
    (jumped
      ? 'E jumped the queue: it asked just as the lock was released and took it ahead of A to D, who had been waiting. ' +
        'A release must hand its turn straight to the oldest waiter, not set a flag that any newcomer can grab.'
      : 'Waiters must be served first come, first served: keep them in a queue (push, shift), oldest first.') +
    `\n${timeline.toText()}\n`
  );
}

describe('Mutex', () => {
  test('ten overlapping deposits through runExclusive add up to 100', async () => {
    const account = new Account();
    const timeline = new Timeline();
    const mutex = new Mutex();
    const results = await valueWithin(
      2_000,
      Promise.all(range(10).map((i) => mutex.runExclusive(() => timeline.run(`deposit ${i}`, () => account.deposit(10))))),
      'the deposits never finished: a caller is waiting for a lock that was never released',
      (reason) =>
        `One of 10 overlapping calls mutex.runExclusive(() => account.deposit(10)) rejected with ${shownReason(reason)}, but a deposit ` +
        'throws nothing (it resolves with the balance it wrote): runExclusive should resolve with what its critical section returned.',
    );
    const balance = await account.balance();
    const unprotected = await balanceWithoutLock();
    expect(
      timeline.maxInFlight,
      `${timeline.maxInFlight} deposits were inside the critical section at once, and the balance ended at ${balance}, not 100 ` +
        `(with no lock at all it ends at ${unprotected}). Each one read the balance before the others wrote theirs back. ` +
        `A caller woken after waiting must not simply go in: only one holder at a time.\n${timeline.toText()}\n`,
    ).toBe(1);
    expect(balance, `Ten deposits of 10 left a balance of ${balance}: updates were lost.`).toBe(100);
    expect(
      [...results].sort((a, b) => a - b),
      'runExclusive must resolve with what the critical section returned (each deposit returns the balance it wrote).',
    ).toEqual(range(10).map((i) => 10 * (i + 1)));
  });

  test('lock() lets one caller in at a time; its release lets the next one in', async () => {
    const timeline = new Timeline();
    const mutex = new Mutex();
    const critical = async (i: number) => {
      const release = await mutex.lock();
      try {
        await timeline.run(`holder ${i}`, () => sleep(5));
      } finally {
        release();
      }
    };
    await valueWithin(
      2_000,
      Promise.all(range(5).map(critical)),
      'a caller never got the lock: was a release lost?',
      (reason) =>
        `One of 5 callers of lock() on a new Mutex (each holding it 5 ms, then calling its release) failed with ${shownReason(reason)}, ` +
        'but lock() has no way to fail here (the caller waits until it gets in) and the test throws nothing while it holds it: ' +
        'each should have got in, in turn.',
    );
    expect(timeline.maxInFlight, `${timeline.maxInFlight} callers held the lock at once; a mutex lets one in at a time.\n${timeline.toText()}\n`).toBe(1);
  });

  test('waiters get the lock first come, first served, even against a caller arriving just as it is released', async () => {
    const mutex = new Mutex();
    const { order, whileHeld, timeline } = await queueScenario(() => mutex.lock(), 1, 'lock() on a new Mutex');
    expect(whileHeld, `${whileHeld.join(', ')} got the lock while another caller still held it.`).toEqual([]);
    expect(timeline.maxInFlight, overlapMessage('the lock', 1, timeline)).toBe(1);
    expect(order, fifoMessage(order, timeline)).toEqual(['A', 'B', 'C', 'D', 'E']);
  });

  test('a critical section that throws still releases the lock, and its error reaches the caller', async () => {
    const mutex = new Mutex();
    const timeline = new Timeline();
    const boom = new Error('the critical section failed on purpose');
    const failing = mutex.runExclusive(() =>
      timeline.run('throws', async () => {
        await sleep(5);
        throw boom;
      }),
    );
    const next = mutex.runExclusive(() => timeline.run('next', async () => 'next got in'));
    // Awaited below; this only keeps an earlier failure from also reporting it as unhandled.
    next.catch(() => {});
    const error = await failureOf(
      () => within(1_000, failing, 'runExclusive never settled although its critical section threw'),
      'runExclusive resolved although its critical section threw: the error must reach the caller as a rejection.',
    );
    expect(error, 'runExclusive rejected, but not with the error the critical section threw: the error must reach the caller').toBe(boom);
    await valueWithin(
      1_000,
      next,
      'After a critical section threw, the next caller never got the lock: release the lock on exception too (try/finally), ' +
        'or every later caller waits forever',
      (reason) =>
        `mutex.runExclusive(async () => 'next got in'), called just after one whose critical section throws, rejected with ` +
        `${shownReason(reason)}${reason === boom ? ", that critical section's error" : ''}, but its own critical section throws nothing: ` +
        "once the lock is released it should run, and resolve with 'next got in'.",
    );
  });

  test('a critical section that throws synchronously still releases the lock, and its error reaches the caller', async () => {
    const mutex = new Mutex();
    const boom = new Error('the critical section failed on purpose, before returning anything');
    const error = await failureOf(
      () =>
        within(
          1_000,
          mutex.runExclusive(() => {
            throw boom;
          }),
          'runExclusive never settled although its critical section threw',
        ),
      'runExclusive resolved although its critical section threw: the error must reach the caller as a rejection.',
    );
    expect(error, 'runExclusive rejected, but not with the error the critical section threw: the error must reach the caller').toBe(boom);
    await valueWithin(
      1_000,
      mutex.runExclusive(() => 'next got in'),
      'After a critical section threw synchronously (a plain function that throws, not a rejected promise), the next caller never got ' +
        'the lock. The throw left runExclusive before the code that releases the lock was reached (was critical() called before a ' +
        'try, or outside a .finally()?): release in a finally block around the call itself',
      (reason) =>
        `mutex.runExclusive(() => 'next got in'), after a critical section threw synchronously, rejected with ${shownReason(reason)}` +
        `${reason === boom ? ", the earlier critical section's error" : ''}, but its own critical section throws nothing: ` +
        "it should resolve with 'next got in'.",
    );
  });

  test('a waiter gets the lock as soon as it is released, with no timer or poll in between', async () => {
    const mutex = new Mutex();
    const first = await granted(1_000, mutex.lock(), 'lock() on a free mutex never resolved', 'lock() on a new Mutex');
    await expectLetInAtOnce(() => mutex.lock(), first, 'the lock', 'The second caller got the lock while the first still held it.');
  });

  test('calling release twice does not let a third caller in beside the second', async () => {
    const mutex = new Mutex();
    const first = await granted(1_000, mutex.lock(), 'lock() on a free mutex never resolved', 'lock() on a new Mutex');
    const inside: string[] = [];
    const second = mutex.lock().then((release) => (inside.push('second'), release));
    first();
    await granted(
      1_000,
      second,
      'the second caller never got the lock after the first released it',
      'lock() by a second caller, while the first held the lock,',
    );
    first();
    const third = mutex.lock().then((release) => (inside.push('third'), release));
    await settle();
    expect(
      inside,
      'The first holder called its release twice, and the third caller got in while the second still held the lock. ' +
        'Make each release function work once: a second call must do nothing.',
    ).toEqual(['second']);
    (await second)();
    (await granted(1_000, third, 'the third caller never got the lock', 'lock() by a third caller, once the second had the lock,'))();
  });
});

describe('Semaphore', () => {
  test('Semaphore(3) lets at most 3 in, and keeps 3 busy while work is waiting', async () => {
    const semaphore = new Semaphore(3);
    const timeline = new Timeline();
    // Task 0 is long: the permits of the short ones must keep turning over beside it.
    const durations = [120, 10, 20, 10, 30, 10, 20, 10, 10, 10];
    const busyAtStart: number[] = [];
    await valueWithin(
      3_000,
      Promise.all(
        durations.map((ms, i) =>
          semaphore.runExclusive(() =>
            timeline.run(`task ${i}`, async () => {
              busyAtStart.push(timeline.running);
              await sleep(ms);
            }),
          ),
        ),
      ),
      'the tasks never all finished: a permit was never given back',
      (reason) =>
        `One of 10 overlapping calls semaphore.runExclusive(task) on a new Semaphore(3) rejected with ${shownReason(reason)}, but each task ` +
        'only sleeps 10 to 120 ms and throws nothing: runExclusive should resolve with what its critical section returned.',
    );
    expect(
      timeline.maxInFlight,
      `${timeline.maxInFlight} tasks held a permit at once: more than 3. ` +
        (timeline.maxInFlight === 4
          ? 'One too many: check the condition that decides whether a caller must wait (> where >= belongs?).'
          : 'Waiters that were woken all went in: hand each permit given back to one waiter only.') +
        `\n${timeline.toText()}\n`,
    ).toBeLessThanOrEqual(3);
    const starved = busyAtStart.slice(3).filter((busy) => busy < 3);
    expect(
      starved,
      'While tasks were waiting, permits were idle: some tasks started with only ' +
        `${Math.min(...starved)} of 3 permits in use. A permit given back must go to the next waiter at once, ` +
        `whichever holder gave it back.\n${timeline.toText()}\n`,
    ).toEqual([]);
    expect(timeline.maxInFlight, `Only ${timeline.maxInFlight} tasks ever ran at once; Semaphore(3) lets 3 in.\n${timeline.toText()}\n`).toBe(3);
  });

  test('waiters get permits first come, first served, even against a caller arriving just as one is released', async () => {
    const semaphore = new Semaphore(2);
    const { order, whileHeld, timeline } = await queueScenario(() => semaphore.acquire(), 2, 'acquire() on a new Semaphore(2)');
    expect(whileHeld, `${whileHeld.join(', ')} got a permit while both permits were held.`).toEqual([]);
    expect(timeline.maxInFlight, overlapMessage('a permit', 2, timeline)).toBeLessThanOrEqual(2);
    expect(order, fifoMessage(order, timeline)).toEqual(['A', 'B', 'C', 'D', 'E']);
  });

  test('critical sections that throw give their permits back, and their errors reach the callers', async () => {
    const semaphore = new Semaphore(2);
    const boom = new Error('the critical section failed on purpose');
    for (const attempt of [1, 2]) {
      const error = await failureOf(
        () =>
          within(
            1_000,
            semaphore.runExclusive(() => {
              throw boom;
            }),
            'runExclusive never settled although its critical section threw',
          ),
        'runExclusive resolved although its critical section threw: the error must reach the caller as a rejection.',
      );
      expect(error, `attempt ${attempt}: runExclusive rejected, but not with the error the critical section threw: the error must reach the caller`).toBe(boom);
    }
    await valueWithin(
      1_000,
      semaphore.runExclusive(async () => 'in'),
      'After two critical sections threw, no permit was left for the next caller: release the permit on exception too (try/finally)',
      (reason) =>
        `semaphore.runExclusive(async () => 'in') on a Semaphore(2), after two critical sections threw, rejected with ${shownReason(reason)}` +
        `${reason === boom ? ', their error' : ''}, but its own critical section throws nothing: it should resolve with 'in'.`,
    );
  });

  test('critical sections that reject after an await give their permits back, and their errors reach the callers', async () => {
    const semaphore = new Semaphore(2);
    const boom = new Error('the critical section failed on purpose, after an await');
    for (const attempt of [1, 2]) {
      const error = await failureOf(
        () =>
          within(
            1_000,
            semaphore.runExclusive(async () => {
              await sleep(5);
              throw boom;
            }),
            'runExclusive never settled although its critical section rejected',
          ),
        'runExclusive resolved although its critical section rejected: the error must reach the caller as a rejection.',
      );
      expect(error, `attempt ${attempt}: runExclusive rejected, but not with the error its critical section rejected with`).toBe(boom);
    }
    await valueWithin(
      1_000,
      semaphore.runExclusive(async () => 'in'),
      'After two critical sections rejected (each after an await), no permit was left for the next caller. A critical section may ' +
        'return a promise that rejects later: wait for it (await critical() inside try/finally) and give the permit back whichever way it settles',
      (reason) =>
        `semaphore.runExclusive(async () => 'in') on a Semaphore(2), after two critical sections rejected, rejected with ${shownReason(reason)}` +
        `${reason === boom ? ', their error' : ''}, but its own critical section rejects with nothing: it should resolve with 'in'.`,
    );
  });

  test('runExclusive resolves with what its critical section returns, or resolves with', async () => {
    const semaphore = new Semaphore(2);
    const results = await valueWithin(
      1_000,
      Promise.all([
        semaphore.runExclusive(() => 'returned'),
        semaphore.runExclusive(async () => (await sleep(5), 'resolved')),
        semaphore.runExclusive(() => 0),
      ]),
      'runExclusive never settled for critical sections that return at once or after 5 ms',
      (reason) => `semaphore.runExclusive rejected with ${shownReason(reason)}, but none of these critical sections throws.`,
    );
    expect(
      results,
      "On a Semaphore(2), runExclusive(() => 'returned'), runExclusive(async () => 'resolved') and runExclusive(() => 0) " +
        `resolved with ${JSON.stringify(results)}: each should settle as its critical section does, with the value it returned or resolved with.`,
    ).toEqual(['returned', 'resolved', 0]);
  });

  /** Takes both permits of a new Semaphore(2), one acquire() after the other. */
  const bothPermits = async (semaphore: Semaphore): Promise<[Release, Release]> => [
    await granted(1_000, semaphore.acquire(), 'acquire() on a free semaphore never resolved', 'acquire() on a new Semaphore(2)'),
    await granted(1_000, semaphore.acquire(), 'acquire() with a permit left never resolved', 'A second acquire() on a Semaphore(2), with a permit left,'),
  ];

  test('a waiter gets a permit as soon as one is given back, with no timer or poll in between', async () => {
    const semaphore = new Semaphore(2);
    const [first, second] = await bothPermits(semaphore);
    try {
      await expectLetInAtOnce(() => semaphore.acquire(), first, 'a permit', 'A third caller got a permit while both permits of a Semaphore(2) were held.');
    } finally {
      second();
    }
  });

  test('calling release twice gives back one permit, not two', async () => {
    const semaphore = new Semaphore(2);
    const [first, second] = await bothPermits(semaphore);
    const inside: string[] = [];
    const third = semaphore.acquire().then((release) => (inside.push('third'), release));
    const fourth = semaphore.acquire().then((release) => (inside.push('fourth'), release));
    await settle();
    expect(inside, `${inside.join(' and ')} got a permit while both permits of a Semaphore(2) were held.`).toEqual([]);
    first();
    first();
    const next = await granted(
      1_000,
      Promise.race([third, fourth]),
      'no waiter got a permit after a holder released one',
      'acquire() by a third or fourth caller, waiting on a Semaphore(2),',
    );
    await settle();
    expect(
      inside,
      'One holder called its release twice and two waiters got in: 3 holders on a Semaphore(2). ' +
        'Make each release function work once: a second call must do nothing.',
    ).toHaveLength(1);
    second();
    next();
    (await granted(1_000, inside[0] === 'third' ? fourth : third, 'the last waiter never got a permit', 'acquire() by the last waiter on a Semaphore(2)'))();
    (await granted(1_000, fourth, 'the fourth caller never got a permit', 'acquire() by the fourth caller on a Semaphore(2)'))();
  });
});
