import { readFile } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { settlementWithin, sleep } from '#kata/testing/index.ts';
import { createBatcher, everyTurn } from './event-loop.ts';

// Real timers, a real file read, Node's real loop: the order is recorded as it happened.
const thisFile = fileURLToPath(import.meta.url);

/** Lets the loop turn `count` times, and a timer of 1 ms fire, for whatever was queued to run. */
async function loopTurns(count: number): Promise<void> {
  for (let turn = 0; turn < count; turn += 1) await nextTurn();
  await sleep(2);
}

const shown = (batches: unknown[][]) => (batches.length === 0 ? 'none' : batches.map((batch) => JSON.stringify(batch)).join(', '));

/** A flush that records every array it is handed, and a copy of what each held at that moment. */
function recordingFlush<T>() {
  const handed: T[][] = [];
  const held: T[][] = [];
  return {
    handed,
    held,
    flush: (items: T[]) => {
      handed.push(items);
      held.push([...items]);
    },
  };
}

describe('createBatcher', () => {
  test('hands the items added in one stretch of code to flush in one call, in order, once add() has returned', async () => {
    const { held, flush } = recordingFlush<number>();
    const add = createBatcher(flush);
    for (let item = 1; item <= 5; item += 1) add(item);
    const duringAdds = held.length;
    await loopTurns(3);
    expect(
      duringAdds,
      `flush was called ${duringAdds} time(s) while the 5 adds of one stretch of code were being made (with ${shown(held.slice(0, duringAdds))}): ` +
        `add() called it itself. add() only collects; the flush comes once the current code is done.`,
    ).toBe(0);
    const oneEach = held.length === 5 && held.every((batch) => batch.length === 1);
    expect(
      held,
      `5 items were added in one stretch of code, and flush was called ${held.length} time(s), with ${shown(held)}. ` +
        (oneEach
          ? 'Each add queued a flush of its own item: queue one flush per batch, when its first item comes, and hand it every item added by then.'
          : 'They belong in one call: [1,2,3,4,5], in the order they were added.'),
    ).toEqual([[1, 2, 3, 4, 5]]);
  });

  test('flushes right after the current operation: before a timer and an immediate queued before the first add', async () => {
    const order: string[] = [];
    const add = createBatcher<string>((items) => order.push(`flush [${items.join(', ')}]`));
    await new Promise<void>((resolve, reject) => {
      readFile(thisFile, (error) => {
        if (error) return reject(error);
        // Inside an I/O callback the order of these two is fixed: the immediate, then the timer.
        setTimeout(() => order.push('0 ms timer'), 0);
        setImmediate(() => order.push('immediate'));
        setTimeout(resolve, 30);
        try {
          add('a');
          add('b');
        } catch (thrown) {
          reject(thrown);
        }
      });
    });
    const flushAt = order.findIndex((entry) => entry.startsWith('flush'));
    const after = order.slice(0, Math.max(flushAt, 0)).join(' and ');
    expect(
      flushAt,
      flushAt === -1
        ? `Inside a file read's callback, 2 items were added, and 30 ms later flush had not been called (the loop ran: ${order.join(', ')}). ` +
            'The flush comes right after the current operation, before the loop moves on: queue it with queueMicrotask (or process.nextTick).'
        : `Inside a file read's callback, a 0 ms timer and an immediate were queued, then 2 items added. The loop ran: ${order.join(', ')}. ` +
            `The flush came after the ${after}: it waited for a later phase of the loop (a setImmediate waits for the check phase, ` +
            'a setTimeout for the timers phase, and inside an I/O callback even a 0 ms timer runs after the immediates). Right after ' +
            'the current operation is a microtask: queueMicrotask (or process.nextTick) runs before the loop moves on to anything else.',
    ).toBe(0);
  });

  test('never calls flush without items', async () => {
    const { held, flush } = recordingFlush<number>();
    const add = createBatcher(flush);
    await loopTurns(3);
    const beforeAnyAdd = held.length;
    add(1);
    add(2);
    add(3);
    await loopTurns(3);
    const empty = held.filter((batch) => batch.length === 0).length;
    expect(
      { beforeAnyAdd, empty },
      `flush was called ${empty} time(s) with an empty array` +
        (beforeAnyAdd > 0 ? `, ${beforeAnyAdd} of them before anything was added` : '') +
        ` (for 3 items added in one stretch, the calls were: ${shown(held)}). A flush queued for every add, or one that comes on a ` +
        'schedule, finds nothing to flush: queue a flush only with the first item of a batch.',
    ).toEqual({ beforeAnyAdd: 0, empty: 0 });
  });

  test('puts items added by flush itself, or on a later turn, in a new batch: none lost, none flushed twice', async () => {
    const held: string[][] = [];
    let addedFromFlush = false;
    const add = createBatcher<string>((items) => {
      held.push([...items]);
      if (!addedFromFlush) {
        addedFromFlush = true;
        add('c, added by flush');
      }
    });
    // Queued before anything is added: "c", added by flush, is flushed the same way as "a" and "b", before it runs.
    let immediateRanAfter: number | undefined;
    setImmediate(() => (immediateRanAfter = held.length));
    add('a');
    add('b');
    await loopTurns(3);
    add('d, added a turn later');
    await loopTurns(3);
    const flushed = held.flat();
    const expected = ['a', 'b', 'c, added by flush', 'd, added a turn later'];
    const lost = expected.filter((item) => !flushed.includes(item));
    const twice = expected.filter((item) => flushed.indexOf(item) !== flushed.lastIndexOf(item));
    const why =
      twice.length > 0
        ? `${twice.map((item) => `"${item}"`).join(' and ')} reached flush twice: a batch handed over stayed in the batcher and went out again.`
        : lost.includes('c, added by flush')
          ? `"c", added by flush while it ran, never reached flush${lost.length > 1 ? ', nor did "d", added a turn later' : ''}: it went into the batch being ` +
            'handed over, or no flush was queued for it (a "flush queued" mark still set while flush ran). Start the next batch before you call flush.'
          : lost.length > 0
            ? `"d", added a turn after the first flush, never reached flush: no flush was queued for it (a "flush queued" mark never cleared?).`
            : `Each item was flushed once, but not in the batches expected: "c", added by flush while it ran, goes into a batch of its own, ` +
              'flushed right after flush returns; "d", added a turn later, into the next.';
    expect(held, `flush got ${shown(held)}. ${why}`).toEqual([['a', 'b'], ['c, added by flush'], ['d, added a turn later']]);
    expect(
      immediateRanAfter,
      `An immediate queued before the first add ran after ${immediateRanAfter} flush call(s), so the batch of "c", added by flush while it ran, ` +
        'came later than that immediate: items added by flush are flushed the same way as the first ones, right after the current ' +
        'operation (flush), before any timer or immediate, not on a later turn.',
    ).toBe(2);
  });

  test('hands each batch over as an array of its own, never changed afterwards', async () => {
    const { handed, held, flush } = recordingFlush<string>();
    const add = createBatcher(flush);
    add('a');
    add('b');
    await loopTurns(3);
    add('c');
    await loopTurns(3);
    add('d');
    add('e');
    await loopTurns(3);
    expect(held, `flush got ${shown(held)}, for a and b, then c, then d and e, each added on a turn of its own.`).toEqual([['a', 'b'], ['c'], ['d', 'e']]);
    const changed = handed
      .map((array, index) => ({ index, now: [...array], atFlush: held[index]! }))
      .filter(({ now, atFlush }) => JSON.stringify(now) !== JSON.stringify(atFlush));
    const reused = handed.some((array, index) => handed.indexOf(array) !== index);
    expect(
      changed.map(({ index }) => index),
      `The arrays flush kept changed after flush had returned: ${changed.map(({ index, atFlush, now }) => `batch ${index + 1} held ${JSON.stringify(atFlush)} and now holds ${JSON.stringify(now)}`).join('; ')}. ` +
        (reused ? 'The same array was handed over more than once: ' : '') +
        'The batcher went on using an array it had handed over (emptied it, or pushed later items into it). flush may keep its array: ' +
        'hand it over, and start a new one for the next batch.',
    ).toEqual([]);
  });

  test('keeps each batcher to its own items and its own flush', async () => {
    const first = recordingFlush<string>();
    const second = recordingFlush<string>();
    const addToFirst = createBatcher(first.flush);
    const addToSecond = createBatcher(second.flush);
    addToFirst('first 1');
    addToSecond('second 1');
    addToFirst('first 2');
    addToSecond('second 2');
    await loopTurns(3);
    expect(
      { first: first.held, second: second.held },
      `Two batchers were fed in turns, 2 items each; the first one's flush got ${shown(first.held)}, the second one's ${shown(second.held)}. ` +
        'Items went to the other batcher, or were lost between them: their items or their "flush queued" mark are shared (kept at ' +
        'module level?). Keep them inside createBatcher, one set per batcher.',
    ).toEqual({ first: [['first 1', 'first 2']], second: [['second 1', 'second 2']] });
  });
});

/** Test-owned chains and steps, stopped after each test: a learner's loop that ignores `true` is left nothing to run. */
const cleanUps: Array<() => void> = [];
afterEach(() => {
  for (const cleanUp of cleanUps.splice(0)) cleanUp();
});

/**
 * Counts the turns of the event loop: an immediate that queues itself again runs once per turn,
 * in the check phase (immediates queued while that phase runs wait for the next turn).
 */
function turnCounter(): { readonly count: number } {
  let count = 0;
  let running = true;
  const tick = () => {
    count += 1;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  cleanUps.push(() => (running = false));
  return {
    get count() {
      return count;
    },
  };
}

/** After this many steps in a row with the turn count standing still, the test's step returns true to end them. */
const STARVED_AFTER = 10_000;

/**
 * A step for everyTurn that notes the turn count each time it runs, and returns what `wants`
 * says. It ends a run of steps that never lets the loop turn (returning true), so the test can
 * say so rather than hang. `returned()` marks the moment everyTurn returned to the test.
 */
function observedStep(counter: { readonly count: number }, wants: (call: number) => boolean) {
  const turnsAt: number[] = [];
  let stillTurn = 0;
  let starved = false;
  let callsBeforeReturn: number | undefined;
  let over = false;
  cleanUps.push(() => (over = true));
  return {
    turnsAt,
    get starved() {
      return starved;
    },
    get callsBeforeReturn() {
      return callsBeforeReturn ?? turnsAt.length;
    },
    returned: () => (callsBeforeReturn = turnsAt.length),
    step: (): boolean => {
      if (over) return true;
      const turn = counter.count;
      stillTurn = turnsAt.at(-1) === turn ? stillTurn + 1 : 0;
      turnsAt.push(turn);
      if (stillTurn >= STARVED_AFTER) {
        starved = true;
        return true;
      }
      return wants(turnsAt.length);
    },
  };
}

/** Calls everyTurn(step), noting when it returned: steps before that ran inside the call itself. */
function started(observed: ReturnType<typeof observedStep>): Promise<number> {
  const promise = everyTurn(observed.step);
  observed.returned();
  return promise;
}

/** What a run of steps that never let the loop turn looked like, and where it ran. */
function starvation(observed: ReturnType<typeof observedStep>, waitingFor: string): string {
  const inside = observed.callsBeforeReturn > STARVED_AFTER;
  return (
    `${STARVED_AFTER.toLocaleString('en')} steps ran one after another while the loop did not turn once (the test's own immediate never ran, ` +
    `nor ${waitingFor}); the test's step then returned true to end them. ` +
    (inside
      ? 'They ran inside everyTurn itself, before it returned: a loop that calls step again at once. '
      : 'They ran after everyTurn had returned, each queued by the one before as a microtask (queueMicrotask, .then, an await ' +
        'of something already settled) or with process.nextTick: the loop runs those queues until they are empty, so it never moved on. ') +
    'Wait for the next turn before each step: setImmediate, or await setImmediate() from node:timers/promises.'
  );
}

describe('everyTurn', () => {
  test('stops at the first true, and resolves with how many times step ran', async () => {
    const observed = observedStep(turnCounter(), (call) => call === 5);
    const outcome = await settlementWithin(started(observed), 2_000);
    await loopTurns(5);
    const calls = observed.turnsAt.length;
    if (observed.starved) expect.fail(starvation(observed, 'anything else'));
    expect(
      outcome.state === 'resolved' ? { resolvedWith: outcome.value } : outcome.state,
      outcome.state === 'pending'
        ? `step returned true at its 5th call, and 2 s later everyTurn had not settled (step ran ${calls} times).`
        : outcome.state === 'rejected'
          ? `step returned true at its 5th call, and everyTurn rejected with ${String(outcome.reason)}.`
          : `step returned true at its 5th call, and everyTurn resolved with ${outcome.value}, after step had run ${Math.min(calls, 5)} times: ` +
            'resolve with how many times step ran, the call that returned true included.',
    ).toEqual({ resolvedWith: 5 });
    expect(calls, `step returned true at its 5th call, and was called ${calls} times in all: stop at the first true, and call step no more.`).toBe(5);
  });

  test('lets timers and I/O callbacks run between two steps', async () => {
    let timerFired = false;
    let fileRead = false;
    setTimeout(() => (timerFired = true), 20);
    readFile(thisFile, () => (fileRead = true));
    const observed = observedStep(turnCounter(), () => timerFired && fileRead);
    const outcome = await settlementWithin(started(observed), 3_000);
    if (observed.starved) expect.fail(starvation(observed, 'a 20 ms timer, nor the callback of a file read'));
    expect(
      outcome.state === 'resolved' && timerFired && fileRead,
      `step returns true once a 20 ms timer has fired and a file read has called back; 3 s after the call, everyTurn had ` +
        `${outcome.state === 'pending' ? 'not settled' : outcome.state} (the timer had ${timerFired ? '' : 'not '}fired, the read had ` +
        `${fileRead ? '' : 'not '}called back, step had run ${observed.turnsAt.length} times).`,
    ).toBe(true);
  });

  test('runs one step per turn of the loop: never two in one turn, no turn without one', async () => {
    const observed = observedStep(turnCounter(), (call) => call === 50);
    const outcome = await settlementWithin(started(observed), 3_000);
    if (observed.starved) expect.fail(starvation(observed, 'anything else'));
    expect(
      outcome.state,
      `step returns true at its 50th call; 3 s after the call everyTurn had not settled (step ran ${observed.turnsAt.length} times).`,
    ).not.toBe('pending');
    // Between two steps the test's immediate runs exactly once, whatever the machine's load. (The
    // first step may run inside the call, before the first turn: its gap is not judged.)
    const gaps = observed.turnsAt.slice(2).map((turn, index) => turn - observed.turnsAt[index + 1]!);
    const together = gaps.filter((gap) => gap === 0).length;
    const skipping = gaps.filter((gap) => gap > 1);
    expect(
      { together, skipping: skipping.length },
      together > 0
        ? `${together} times of ${gaps.length}, two steps ran in the same turn of the loop (no turn between them): queue the next ` +
            'step only once this one has run, and only one.'
        : `Between two steps the loop turned up to ${Math.max(...skipping)} times (${skipping.length} of ${gaps.length} gaps were longer ` +
            'than one turn): each step waited for something slower than the next turn. setTimeout(fn, 0) is a timer of at least ' +
            '1 ms, and the loop turns many times meanwhile; setImmediate runs on the very next turn.',
    ).toEqual({ together: 0, skipping: 0 });
  });

  test('rejects, never throws, when step throws at its first call', async () => {
    const thrown = new Error('step 1 failed on purpose');
    const observed = observedStep(turnCounter(), () => {
      throw thrown;
    });
    let promise: Promise<number> | undefined;
    let threw: unknown;
    try {
      promise = started(observed);
    } catch (error) {
      threw = error;
    }
    expect(
      promise !== undefined,
      `everyTurn(step) threw ${String(threw)} at the caller, as the call itself, when step threw at its first call: the caller is promised a ` +
        'promise that rejects with that error. A step called inside everyTurn before it returns throws out of the call unless it is ' +
        'caught there: call it inside the async function, or from the first turn.',
    ).toBe(true);
    const outcome = await settlementWithin(promise!, 2_000);
    expect(
      outcome.state === 'rejected' && outcome.reason === thrown,
      `step threw at its first call, and everyTurn's promise ${outcome.state === 'pending' ? 'had not settled 2 s later' : outcome.state === 'resolved' ? `resolved with ${outcome.value}` : `rejected with ${String(outcome.reason)}`}: ` +
        'it should reject with the error step threw.',
    ).toBe(true);
    expect(observed.turnsAt.length, 'step threw at its first call: that call is the last one.').toBe(1);
  });

  test('rejects with the error step threw, and calls step no more', async () => {
    const thrown = new Error('step 3 failed on purpose');
    const observed = observedStep(turnCounter(), (call) => {
      if (call === 3) throw thrown;
      return false;
    });
    const outcome = await settlementWithin(started(observed), 2_000);
    await loopTurns(5);
    const calls = observed.turnsAt.length;
    expect(
      outcome.state === 'rejected' && outcome.reason === thrown,
      outcome.state === 'pending'
        ? `step threw at its 3rd call, and 2 s later everyTurn had not settled (step ran ${calls} times): the error did not reach ` +
            'its promise. Thrown inside a setImmediate callback, it reaches no caller: catch it there and reject with it (an async ' +
            'function does that for you).'
        : outcome.state === 'resolved'
          ? `step threw at its 3rd call, and everyTurn resolved with ${outcome.value}: reject with the error step threw.`
          : `step threw at its 3rd call, and everyTurn rejected with ${String(outcome.reason)}, not with the error step threw: pass it on unchanged.`,
    ).toBe(true);
    expect(calls, `step threw at its 3rd call, and was called ${calls} times in all: a step that throws is the last one.`).toBe(3);
  });
});
