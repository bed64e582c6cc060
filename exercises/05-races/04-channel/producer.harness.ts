/**
 * The producer thread: sends 1, 2, ... `count` through the channel, then closes it. It counts
 * every send() that returns, so the test can see how far ahead of the consumer it got.
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { announceThread } from '#kata/inside/announce-thread.ts';
import { type AtomicsName, realAtomics, spyOnAtomics } from '#kata/inside/atomics-spy.ts';
import { targetUrl } from '#kata/inside/target.ts';
import type * as Learner from './channel.ts';
import { CLOSE_GATE, CONSUMER_GATE, openGate, POISON, PRODUCER_CELLS, SENT, SENT_AT_FIRST_WAIT } from './control.harness.ts';
import { headerIndexOf, watchHeader } from './watch.harness.ts';

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
  /**
   * Hold close() right after its `holdClose`-th Atomics call on the header (any: a load, a store, a
   * notify, ...), until the test opens CLOSE_GATE. The harness posts each of close()'s calls on the
   * header as it returns ('call', the first 40), and 'held' with the call it holds close() after.
   */
  holdClose?: number;
}

const { channel, control, count, releaseConsumerOnWait, holdClose } = workerData as ProducerData;
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

const headerNames = ['HEAD', 'TAIL', 'END'];
/** "Atomics.load(header, HEAD) → 0", "Atomics.store(header, TAIL, 2)": a call of close() on the header, as the test shows it. */
function described(name: AtomicsName, args: unknown[], result: unknown): string {
  const index = headerIndexOf(channel.header, args[0], args[1]);
  const shown =
    name === 'store' || typeof result === 'object' || result === undefined ? '' : ` → ${typeof result === 'string' ? `'${result}'` : String(result)}`;
  return `Atomics.${name}(${['header', headerNames[index] ?? String(args[1]), ...args.slice(2).map(String)].join(', ')})${shown}`;
}
/** Inside close(): its Atomics calls on the header so far. */
let closing = false;
let callsInClose = 0;
// After watchHeader, so that the hold comes once its own bookkeeping of the call is done.
spyOnAtomics((name, args, proceed) => {
  if (!closing || holdClose === undefined || headerIndexOf(channel.header, args[0], args[1]) === -1) return proceed();
  const result = proceed();
  callsInClose += 1;
  const line = described(name, args, result);
  if (callsInClose <= 40) parentPort!.postMessage({ type: 'call', line });
  if (callsInClose === holdClose) {
    parentPort!.postMessage({ type: 'held', after: line });
    // Bounded waits: the test stops this worker long before, if it never opens the gate.
    while (realAtomics.load(control, CLOSE_GATE) === 0) realAtomics.wait(control, CLOSE_GATE, 0, 1_000);
  }
  return result;
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
  closing = true;
  await close(channel);
  closing = false;
  parentPort!.postMessage({ type: 'done' });
}

void main();
