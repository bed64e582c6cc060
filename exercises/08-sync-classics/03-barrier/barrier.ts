/**
 * A reusable barrier for `parties` threads in two Int32 cells of shared memory, `index` and
 * `index + 1`: every thread builds a Barrier over the same cells (the same SharedArrayBuffer,
 * sent to it) with the same `parties`, and calls arriveAndWait() once per round.
 * Both cells start at 0, as new shared memory does: let 0, 0 mean "round 1, nobody has arrived yet".
 */
export class Barrier {
  readonly #cells: Int32Array;
  readonly #parties: number;
  readonly #index: number;

  /** Throws a RangeError unless `parties` is a positive integer. Writes nothing to the memory. */
  constructor(shared: Int32Array, parties: number, index = 0) {
    // TODO: refuse a `parties` that is not a positive integer. Leave the memory as it is: other
    // threads may already be waiting in this barrier.
    this.#cells = shared;
    this.#parties = parties;
    this.#index = index;
  }

  /**
   * Arrives at the barrier and sleeps until all `parties` threads have arrived in this round.
   * Returns true in the thread whose arrival completed the round (the last), false in the others.
   */
  arriveAndWait(): boolean {
    // TODO: count this arrival; the last one ends the round and wakes the others, who sleep until then.
    throw new Error('Not implemented yet: Barrier.arriveAndWait() in exercises/08-sync-classics/03-barrier/barrier.ts (see README.md there)');
  }
}
