/**
 * The tests' own shared memory, apart from the channel: counters the harness workers keep as
 * they go, which the test reads to see how far each side got, and gates that hold the consumer
 * (or the producer's close()) still until the test lets it go on.
 */
export const SENT = 0; // how many send() calls have returned
export const RECEIVED = 1; // how many receive() calls have returned an item
export const CONSUMER_GATE = 2; // the consumer goes on once this is 1 (when asked to pause)
export const SENT_AT_FIRST_WAIT = 11; // SENT when the producer first waited on the header (releaseConsumerOnWait only)
export const CLOSE_GATE = 12; // a close() held by the producer's harness (holdClose) goes on once this is 1
export const CONSUMER_ASLEEP = 13; // the consumer's waits on the header not yet over: Atomics.wait calls under way, waitAsync promises pending
export const CONSUMER_WAITED_ON = 14; // the header index of the consumer's last wait on the header
export const CONSUMER_WAITED_FOR = 15; // the value that wait expected there

/** What each side's own calls on the channel's header did (see watch.harness.ts): where it counts them. */
export interface SideCells {
  /** Its Atomics.wait (or waitAsync) calls, on the header or an array of its own, that ended 'timed-out': it woke itself, nobody notified it. */
  timedOut: number;
  /** Its Atomics.notify calls on a header index made, within one call of send/close/receive, before that call moved the index. */
  notifiedBeforeMove: number;
  /** Its Atomics.notify calls on the header. */
  notifies: number;
  /**
   * Producer: moves of TAIL made while the slot of the item just sent did not yet hold it.
   * Consumer (when asked to check): items it returned after moving HEAD past their slot.
   */
  outOfOrder: number;
}
export const PRODUCER_CELLS: SideCells = { timedOut: 3, notifiedBeforeMove: 4, notifies: 5, outOfOrder: 6 };
export const CONSUMER_CELLS: SideCells = { timedOut: 7, notifiedBeforeMove: 8, notifies: 9, outOfOrder: 10 };

/** What a freed slot holds when the consumer is asked to check (see consumer.harness.ts): a value never sent. */
export const POISON = -1;

export function createControl(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(16 * Int32Array.BYTES_PER_ELEMENT));
}

/** Sleeps (no CPU) until the gate is opened. */
export function waitAtGate(control: Int32Array, gate: number): void {
  while (Atomics.load(control, gate) === 0) Atomics.wait(control, gate, 0);
}

export function openGate(control: Int32Array, gate: number): void {
  Atomics.store(control, gate, 1);
  Atomics.notify(control, gate);
}
