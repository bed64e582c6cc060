/**
 * A reusable barrier for `parties` threads in two Int32 cells of shared memory: every thread
 * builds a Barrier over the same cells (the same SharedArrayBuffer, sent to it) with the same
 * `parties`, and calls arriveAndWait() once per round.
 *
 * Cell `index` counts the threads that have arrived in the current round; cell `index + 1` is the
 * round's number, its generation. Both start at 0, as new shared memory does.
 */
export class Barrier {
  readonly #cells: Int32Array;
  readonly #parties: number;
  readonly #count: number;
  readonly #generation: number;

  constructor(shared: Int32Array, parties: number, index = 0) {
    if (!Number.isInteger(parties) || parties < 1) throw new RangeError(`parties must be a positive integer, not ${parties}`);
    // Nothing is written here: a thread may build its Barrier while others already wait in it.
    this.#cells = shared;
    this.#parties = parties;
    this.#count = index;
    this.#generation = index + 1;
  }

  /**
   * Arrives at the barrier and sleeps until all `parties` threads have arrived in this round.
   * Returns true in the thread whose arrival completed the round (the last), false in the others.
   */
  arriveAndWait(): boolean {
    // Read the round's number before arriving: once this thread has arrived, the others may
    // complete the round and move the generation on at any moment. Read afterwards, it could
    // already be the next round's number, and this thread would wait for a release that is past.
    const generation = Atomics.load(this.#cells, this.#generation);
    // One indivisible step: of all the threads that arrive at once, exactly one sees parties - 1.
    const arrived = Atomics.add(this.#cells, this.#count, 1) + 1;
    if (arrived === this.#parties) {
      // The last arrival. Reset the count for the next round *before* releasing anyone: once the
      // generation moves, a woken thread may race straight into the next round and count itself
      // there, and a reset after that would wipe its arrival out.
      Atomics.store(this.#cells, this.#count, 0);
      Atomics.add(this.#cells, this.#generation, 1);
      // Wake every sleeper (no count: all of them), after the generation has moved, so that a
      // woken thread sees the round has ended.
      Atomics.notify(this.#cells, this.#generation);
      return true;
    }
    // Sleep while the generation is still this round's. If it has moved already (the last one
    // arrived between the load and here), Atomics.wait returns at once ("not-equal"), so the
    // release cannot be missed. The loop ends only when the round has ended.
    while (Atomics.load(this.#cells, this.#generation) === generation) {
      Atomics.wait(this.#cells, this.#generation, generation);
    }
    return false;
  }
}
