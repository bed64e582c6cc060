/**
 * The producer thread: sends 1, 2, ... `count` through the channel, then closes it. It counts
 * every send() that returns, so the test can see how far ahead of the consumer it got.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { announceThread } from '#kata/inside/announce-thread.ts';
import { targetUrl } from '#kata/inside/target.ts';
import type * as Learner from './channel.ts';
import { CONSUMER_GATE, openGate, POISON, PRODUCER_CELLS, SENT, SENT_AT_FIRST_WAIT } from './control.harness.ts';
import { watchHeader } from './watch.harness.ts';

/** The header's layout, as channel.ts gives it (not imported: the learner's module is loaded only once the watch is on). */
const TAIL = 1;

export interface ProducerData {
  channel: Learner.Channel;
  control: Int32Array;
  count: number;
  /**
   * Let the consumer, held at CONSUMER_GATE, go on the moment this thread waits on the header (for
   * room): the test then knows the producer found the ring full, and held it full until then. How
   * many sends had returned by then is kept in SENT_AT_FIRST_WAIT.
   */
  releaseConsumerOnWait?: boolean;
}

const { channel, control, count, releaseConsumerOnWait } = workerData as ProducerData;
// Before the learner's code is loaded: see watch.harness.ts.
// The value send() is putting in right now: by the time it moves TAIL, the item's slot must hold it.
let sending: number | undefined;
const watch = watchHeader(channel.header, control, PRODUCER_CELLS, {
  afterMove(index) {
    if (index !== TAIL || sending === undefined) return;
    const slot = (Atomics.load(channel.header, TAIL) - 1) % channel.slots.length;
    const found = channel.slots[slot];
    // POISON: the consumer (playing a quick producer, see consumer.harness.ts) has already taken
    // the item and freed the slot, in the instant since TAIL moved: this look cannot tell. A send()
    // that moves TAIL first is still seen on the ring's first lap, where a slot not yet written holds 0.
    if (found !== sending && found !== POISON) Atomics.add(control, PRODUCER_CELLS.outOfOrder, 1);
  },
  beforeWait() {
    if (!releaseConsumerOnWait || Atomics.load(control, CONSUMER_GATE) === 1) return;
    Atomics.store(control, SENT_AT_FIRST_WAIT, Atomics.load(control, SENT));
    openGate(control, CONSUMER_GATE);
  },
});
// No top-level await (CONTRIBUTING, rule 8: Node crashes if a test stops a worker as its async module starts).
async function main(): Promise<void> {
  const { send, close } = (await import(targetUrl(import.meta.url, './channel.ts').href)) as typeof Learner;

  // So that the test can read this thread's own CPU time while it waits.
  announceThread();
  parentPort!.postMessage({ type: 'started', threadId });
  for (let value = 1; value <= count; value += 1) {
    // Awaited so that an asynchronous send (built on Atomics.waitAsync) works too.
    watch.newCall();
    sending = value;
    await send(channel, value);
    Atomics.store(control, SENT, value);
  }
  watch.newCall();
  sending = undefined;
  await close(channel);
  parentPort!.postMessage({ type: 'done' });
}

void main();
