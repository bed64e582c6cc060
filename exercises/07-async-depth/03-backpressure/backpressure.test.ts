import { Writable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { measured, type Settlement, settlementWithin, sleep } from '#kata/testing/index.ts';
import { transformAll } from './backpressure.ts';

/** What the README allows in between: items given out by the source and not yet written. */
const MAX_LEAD = 200;

/** The test's source: an async generator that counts what it gives out and notes when it is closed. */
function countingSource(count: number, { failAt }: { failAt?: number } = {}) {
  const state = { given: 0, closed: false, failure: new Error(`the source failed on purpose at its item ${failAt}`) };
  async function* items(): AsyncGenerator<number> {
    try {
      for (let item = 1; item <= count; item += 1) {
        if (item === failAt) throw state.failure;
        state.given += 1;
        yield item;
      }
    } finally {
      state.closed = true;
    }
  }
  return { state, items: items() };
}

/**
 * The test's destination: a slow object-mode writable (highWaterMark 4 unless told, each write done
 * a turn later) that records what it wrote, and at each write how far the source was ahead of it.
 */
function slowDestination(source: { given: number }, { failAt, highWaterMark = 4 }: { failAt?: number; highWaterMark?: number } = {}) {
  const state = { written: [] as unknown[], maxLead: 0, maxBuffered: 0, failure: new Error(`the destination failed on purpose at its write ${failAt}`) };
  const stream = new Writable({
    objectMode: true,
    highWaterMark,
    write(item: unknown, _encoding, done) {
      state.maxLead = Math.max(state.maxLead, source.given - state.written.length);
      state.maxBuffered = Math.max(state.maxBuffered, stream.writableLength);
      if (state.written.length + 1 === failAt) {
        setImmediate(() => done(state.failure));
        return;
      }
      state.written.push(item);
      setImmediate(done);
    },
  });
  return { state, stream };
}

// An async transform that waits on microtasks only: what runs when is then the same on every machine.
const double = async (item: number) => {
  if (item % 7 === 0) await Promise.resolve();
  return item * 2;
};

function settled(outcome: Settlement<void>): string {
  if (outcome.state === 'pending') return 'had not settled 3 s later';
  return outcome.state === 'resolved' ? 'resolved' : `rejected with ${String(outcome.reason)}`;
}

describe('transformAll', () => {
  test('writes every item, transformed, once and in order', async () => {
    const source = countingSource(1_000);
    const destination = slowDestination(source.state);
    const outcome = await settlementWithin(transformAll(source.items, double, destination.stream), 10_000);
    const written = destination.state.written;
    const expected = Array.from({ length: 1_000 }, (_, index) => (index + 1) * 2);
    expect(outcome.state, `With 1,000 items, transformAll ${settled(outcome)} (the destination wrote ${written.length}).`).toBe('resolved');
    const firstWrong = expected.findIndex((item, index) => written[index] !== item);
    expect(
      firstWrong,
      `The destination wrote ${written.length} items for 1,000 doubled; from write ${firstWrong + 1} on they differ from the source's ` +
        `order (wrote ${JSON.stringify(written.slice(firstWrong, firstWrong + 5))}, expected ${JSON.stringify(expected.slice(firstWrong, firstWrong + 5))}): ` +
        'write each transformed item once, in the order the source gave it, after awaiting its transform.',
    ).toBe(-1);
    expect(written.length, `The destination wrote ${written.length} items for 1,000: write each one once.`).toBe(1_000);

    // A transform that takes longer for some items (every 4th waits 3 ms on a timer): results that
    // are written as soon as they are ready, not in turn, come out of order.
    const uneven = countingSource(100);
    const unevenDestination = slowDestination(uneven.state);
    const slowEvery4th = async (item: number) => {
      if (item % 4 === 0) await new Promise((resolve) => setTimeout(resolve, 3));
      return item * 2;
    };
    const unevenOutcome = await settlementWithin(transformAll(uneven.items, slowEvery4th, unevenDestination.stream), 10_000);
    expect(unevenOutcome.state, `With 100 items and a transform slower on every 4th, transformAll ${settled(unevenOutcome)}.`).toBe('resolved');
    const unevenWritten = unevenDestination.state.written;
    const firstOut = unevenWritten.findIndex((item, index) => item !== (index + 1) * 2);
    expect(
      firstOut,
      `With a transform that takes 3 ms on every 4th item and no time on the others, the destination wrote ${JSON.stringify(unevenWritten.slice(0, 10))}... ` +
        `(from write ${firstOut + 1} on, not the source's order): items written as their transforms finish overtake the slow ones. ` +
        'Write each result in the order the source gave the items: await its transform before the next (or keep the results in order).',
    ).toBe(-1);
  });

  // With the destination's highWaterMark at 4, and at 16, the object-mode default: an answer that
  // reads ahead by a multiple of the destination's mark stays under the bound only at 4.
  test(`takes items only as fast as the destination writes them: never more than ${MAX_LEAD} ahead`, { timeout: 45_000 }, async () => {
    for (const highWaterMark of [4, 16]) {
      const source = countingSource(5_000);
      const destination = slowDestination(source.state, { highWaterMark });
      const outcome = await settlementWithin(transformAll(source.items, double, destination.stream), 20_000);
      const { maxLead, maxBuffered, written } = destination.state;
      expect(outcome.state, `With 5,000 items, transformAll ${settled(outcome)} (the destination wrote ${written.length}).`).toBe('resolved');
      expect(
        measured('backpressure: items given out and not yet written', maxLead, MAX_LEAD),
        `The source gave out up to ${maxLead} items more than the destination had written (of 5,000, with the destination's highWaterMark at ${highWaterMark}; the README allows ${MAX_LEAD}). ` +
          (maxBuffered > 4 * highWaterMark
            ? `They waited in the destination's own buffer, up to ${maxBuffered} items with a highWaterMark of ${highWaterMark}: write() returned false and ` +
              "the next write came anyway. Wait for 'drain' before writing again (or let pipeline do it)."
            : `The destination's buffer held at most ${maxBuffered}: the items waited somewhere else, taken from the source before the ` +
              'destination had room (collected into an array first, or read ahead). Take the next item only once the last one is written.'),
      ).toBeLessThanOrEqual(MAX_LEAD);
    }
  });

  test('writes every item through a transform that returns its result at once, not a promise', async () => {
    const source = countingSource(300);
    const destination = slowDestination(source.state);
    const outcome = await settlementWithin(
      transformAll(source.items, (item: number) => item * 3, destination.stream),
      10_000,
    );
    const written = destination.state.written;
    expect(
      outcome.state,
      `With a plain (not async) transform, (item) => item * 3, over 300 items, transformAll ${settled(outcome)} (the destination wrote ${written.length}). ` +
        'transform may return its result or a promise of it: await what it returns (await works on both), do not call .then on it.',
    ).toBe('resolved');
    expect(written, 'The destination should have written each item tripled, once, in order.').toEqual(
      Array.from({ length: 300 }, (_, index) => (index + 1) * 3),
    );
  });

  test('resolves only once the destination has finished', async () => {
    const source = countingSource(200);
    const destination = slowDestination(source.state);
    let finishedAtSettle: { finished: boolean; left: number } | undefined;
    const outcome = await settlementWithin(
      transformAll(source.items, double, destination.stream).then(() => {
        finishedAtSettle = { finished: destination.stream.writableFinished, left: destination.stream.writableLength };
      }),
      10_000,
    );
    expect(outcome.state, `With 200 items, transformAll ${settled(outcome)}.`).toBe('resolved');
    expect(
      finishedAtSettle!.finished,
      `transformAll resolved while the destination had not finished: ${finishedAtSettle!.left} item(s) still in its buffer, ` +
        `${destination.state.written.length} of 200 written. End it, and wait for 'finish' (finished() from node:stream/promises, or pipeline).`,
    ).toBe(true);
  });
});

describe('transformAll when a stage fails', () => {
  test('a source that fails: rejects with its error and destroys the destination', async () => {
    const source = countingSource(1_000, { failAt: 50 });
    const destination = slowDestination(source.state);
    const outcome = await settlementWithin(transformAll(source.items, double, destination.stream), 3_000);
    expect(
      outcome.state === 'rejected' && outcome.reason === source.state.failure,
      `The source threw at its item 50, and transformAll ${settled(outcome)}. ` +
        (outcome.state === 'pending'
          ? "The error never reached the promise: .pipe() and a bare 'data' or for-await loop over a stream pass errors on to no one. "
          : '') +
        "Reject with the source's own error (pipeline does).",
    ).toBe(true);
    expect(
      destination.stream.destroyed,
      `transformAll rejected, but the destination was left open (not destroyed; ${destination.state.written.length} items written). ` +
        'On an error, destroy every stage: pipeline does it; by hand, destination.destroy(error).',
    ).toBe(true);
  });

  test('a transform that fails: rejects with its error, closes the source and destroys the destination', async () => {
    const source = countingSource(1_000);
    const destination = slowDestination(source.state);
    const failure = new Error('transform failed on purpose at item 20');
    const transform = async (item: number) => {
      if (item === 20) throw failure;
      return item * 2;
    };
    const outcome = await settlementWithin(transformAll(source.items, transform, destination.stream), 3_000);
    await sleep(50);
    expect(
      outcome.state === 'rejected' && outcome.reason === failure,
      `transform threw at item 20, and transformAll ${settled(outcome)}: reject with that error.`,
    ).toBe(true);
    expect(
      { sourceClosed: source.state.closed, destinationDestroyed: destination.stream.destroyed },
      `transformAll rejected, and 50 ms later the source was ${source.state.closed ? 'closed' : 'still open (its generator never finished)'} and ` +
        `the destination ${destination.stream.destroyed ? 'destroyed' : 'still open'}. On an error every stage is closed: a for-await ` +
        "loop left by a throw calls the source's return(); the destination must be destroyed (pipeline does both).",
    ).toEqual({ sourceClosed: true, destinationDestroyed: true });
  });

  test('a transform that throws at once, returning no promise: rejects with its error, closes the source and destroys the destination', async () => {
    const source = countingSource(1_000);
    const destination = slowDestination(source.state);
    const failure = new Error('transform threw on purpose at item 20, before returning');
    const transform = (item: number) => {
      if (item === 20) throw failure;
      return item * 2;
    };
    const outcome = await settlementWithin(transformAll(source.items, transform, destination.stream), 3_000);
    await sleep(50);
    expect(
      outcome.state === 'rejected' && outcome.reason === failure,
      `A plain (not async) transform threw at item 20, and transformAll ${settled(outcome)}. transform may throw as well as reject: ` +
        "call it where a throw becomes your promise's rejection (in an async function, a try, or new Promise), and reject with that error.",
    ).toBe(true);
    expect(
      { sourceClosed: source.state.closed, destinationDestroyed: destination.stream.destroyed },
      `transformAll rejected after a transform threw at once, and 50 ms later the source was ${source.state.closed ? 'closed' : 'still open'} and ` +
        `the destination ${destination.stream.destroyed ? 'destroyed' : 'still open'}: a throw closes every stage, as a rejection does.`,
    ).toEqual({ sourceClosed: true, destinationDestroyed: true });

    // Again, with each earlier item taking a turn of the event loop in transform: when it throws at
    // item 20, the stages are full of items on their way (taken from the source, not yet written).
    const busySource = countingSource(1_000);
    const busyDestination = slowDestination(busySource.state);
    const busyFailure = new Error('transform threw on purpose at item 20, before returning, with earlier items on their way');
    const slowThenThrow = (item: number) => {
      if (item === 20) throw busyFailure;
      return new Promise<number>((resolve) => setImmediate(() => resolve(item * 2)));
    };
    const busyOutcome = await settlementWithin(transformAll(busySource.items, slowThenThrow, busyDestination.stream), 3_000);
    await sleep(50);
    const onTheirWay = `${busySource.state.given} items taken from the source, ${busyDestination.state.written.length} written`;
    expect(
      busyOutcome.state === 'rejected' && busyOutcome.reason === busyFailure,
      `A transform that takes a turn of the event loop for each item threw at once, returning no promise, at item 20, with earlier items still on their way ` +
        `(${onTheirWay}), and transformAll ${settled(busyOutcome)}. ` +
        (busyOutcome.state === 'pending'
          ? 'The throw reached no one: was transform called from a callback that runs when an earlier item is done (a .then, or a stream ' +
            'calling its transform for the next item it had buffered), where a throw escapes that callback instead of failing your promise? ' +
            'Call transform where a throw becomes a rejection (inside the .then, an async function, or new Promise). '
          : '') +
        'A throw for an item that had to wait its turn rejects the promise with that error, as a throw with nothing waiting does.',
    ).toBe(true);
    expect(
      { sourceClosed: busySource.state.closed, destinationDestroyed: busyDestination.stream.destroyed },
      `transformAll rejected after a transform threw at once with earlier items on their way (${onTheirWay}), and 50 ms later the source was ` +
        `${busySource.state.closed ? 'closed' : 'still open'} and the destination ${busyDestination.stream.destroyed ? 'destroyed' : 'still open'}: ` +
        'a throw closes every stage, whenever it comes.',
    ).toEqual({ sourceClosed: true, destinationDestroyed: true });
  });

  test('a destination that fails: rejects with its error and closes the source', async () => {
    const source = countingSource(1_000);
    const destination = slowDestination(source.state, { failAt: 30 });
    const outcome = await settlementWithin(transformAll(source.items, double, destination.stream), 3_000);
    await sleep(50);
    expect(
      outcome.state === 'rejected' && outcome.reason === destination.state.failure,
      `The destination's write 30 failed, and transformAll ${settled(outcome)}. ` +
        (outcome.state === 'pending'
          ? "The error never reached the promise: a wait for 'drain' that does not also listen for 'error' waits forever (events.once listens for both). "
          : '') +
        "Reject with the destination's error.",
    ).toBe(true);
    expect(
      source.state.closed,
      `transformAll ${settled(outcome)}, but 50 ms later the source was still open: its generator never finished (${source.state.given} items given out). ` +
        "Stop taking items and close the source: leave the for-await loop (it calls the source's return()), or let pipeline do it.",
    ).toBe(true);
  });
});
