/**
 * The consumer thread: receives until the stream ends and checks what arrived against the
 * 1, 2, ... `count` that the producer sent: how many, in which order, what was missing or doubled.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { announceThread } from '#kata/inside/announce-thread.ts';
import { realAtomics, spyOnAtomics } from '#kata/inside/atomics-spy.ts';
import { targetUrl } from '#kata/inside/target.ts';
import type * as Learner from './channel.ts';
import { CONSUMER_ASLEEP, CONSUMER_CELLS, CONSUMER_GATE, CONSUMER_WAITED_FOR, CONSUMER_WAITED_ON, POISON, RECEIVED, waitAtGate } from './control.harness.ts';
import { headerIndexOf, watchHeader } from './watch.harness.ts';

/** The header's layout, as channel.ts gives it (not imported: the learner's module is loaded only once the watch is on). */
const HEAD = 0;

export interface ConsumerData {
  channel: Learner.Channel;
  control: Int32Array;
  /** What the producer sends: 1 to count. */
  count: number;
  /** Post `paused` and wait at CONSUMER_GATE after this many items. */
  pauseAfter?: number;
  /**
   * Play a producer that reuses a slot the moment it is freed: just before receive() moves HEAD,
   * write POISON into the slot HEAD pointed at. (Safe: no producer may write it before HEAD moves.)
   * A receive() that reads its slot before moving HEAD never sees it.
   */
  poisonFreedSlots?: boolean;
}

/** What the consumer saw, compared with 1, 2, ... count. */
export interface StreamReport {
  received: number;
  /** The first item that was not the next number expected. */
  firstWrong?: { position: number; expected: number; got: unknown };
  /** Numbers that came more than once (each extra time counts). */
  duplicated: number;
  /** Numbers that never came. */
  missing: number;
  /** Values that were never sent at all (0, fractions, numbers past count). */
  strange: number;
  /** What a second receive() after the end returned. */
  afterEnd: unknown;
}

const { channel, control, count, pauseAfter, poisonFreedSlots } = workerData as ConsumerData;
// Before the learner's code is loaded: see watch.harness.ts.
const watch = watchHeader(
  channel.header,
  control,
  CONSUMER_CELLS,
  poisonFreedSlots
    ? {
        beforeMove(index) {
          if (index === HEAD) channel.slots[Atomics.load(channel.header, HEAD) % channel.slots.length] = POISON;
        },
      }
    : {},
);
// Where the consumer sleeps, for the test to see: each wait on the header counts in CONSUMER_ASLEEP
// until it is over (Atomics.wait returns; a waitAsync's promise settles). Marked just before an
// Atomics.wait begins: the test looks at the thread itself to know it is really asleep.
spyOnAtomics((name, args, proceed) => {
  const index = headerIndexOf(channel.header, args[0], args[1]);
  if ((name !== 'wait' && name !== 'waitAsync') || index === -1) return proceed();
  realAtomics.store(control, CONSUMER_WAITED_ON, index);
  realAtomics.store(control, CONSUMER_WAITED_FOR, Number(args[2]));
  if (name === 'waitAsync') {
    const result = proceed() as { async: boolean; value: unknown };
    if (result.async) {
      realAtomics.add(control, CONSUMER_ASLEEP, 1);
      const over = () => realAtomics.sub(control, CONSUMER_ASLEEP, 1);
      void (result.value as Promise<unknown>).then(over, over);
    }
    return result;
  }
  realAtomics.add(control, CONSUMER_ASLEEP, 1);
  try {
    return proceed();
  } finally {
    realAtomics.sub(control, CONSUMER_ASLEEP, 1);
  }
});
// No top-level await (CONTRIBUTING, rule 8: Node crashes if a test stops a worker as its async module starts).
async function main(): Promise<void> {
  const { receive } = (await import(targetUrl(import.meta.url, './channel.ts').href)) as typeof Learner;

  const report: StreamReport = { received: 0, duplicated: 0, missing: 0, strange: 0, afterEnd: undefined };
  const seen = new Uint8Array(count + 1);
  let distinct = 0;
  // So that the test can read this thread's own CPU time while it waits.
  announceThread();
  parentPort!.postMessage({ type: 'started', threadId });
  for (;;) {
    if (report.received === pauseAfter) {
      parentPort!.postMessage({ type: 'paused' });
      waitAtGate(control, CONSUMER_GATE);
    }
    // Awaited so that an asynchronous receive (built on Atomics.waitAsync) works too.
    watch.newCall();
    const value = await receive(channel);
    if (value === undefined) break;
    if (value === POISON) Atomics.add(control, CONSUMER_CELLS.outOfOrder, 1);
    const position = report.received;
    report.received += 1;
    Atomics.store(control, RECEIVED, report.received);
    if (value !== position + 1) report.firstWrong ??= { position, expected: position + 1, got: value };
    if (!Number.isInteger(value) || value < 1 || value > count) report.strange += 1;
    else if (seen[value]) report.duplicated += 1;
    else {
      seen[value] = 1;
      distinct += 1;
    }
  }
  report.missing = count - distinct;
  parentPort!.postMessage({ type: 'ended' });
  // A stream that has ended stays ended: this must return undefined at once, not wait.
  watch.newCall();
  report.afterEnd = await receive(channel);
  parentPort!.postMessage({ type: 'done', report });
}

void main();
