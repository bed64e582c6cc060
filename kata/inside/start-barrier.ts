// Runs inside harness workers (`*.harness.ts`): `node:` imports only.
// Captured before any test installs a spy on Atomics, so the barrier itself is never counted.
const { add, load, notify, wait } = Atomics;

/**
 * A start barrier for harness workers: each worker calls it once, and all of them return
 * together, when the last of `parties` has arrived. Workers start tens of ms apart, longer than
 * a million increments take, so without it "concurrent" threads would mostly run one after another
 * and a race would rarely show.
 *
 * `gate` is a shared Int32Array of at least one cell, 0 at first. Blocks (in a worker, never on
 * the test's thread) for at most `ms`, then throws: one worker that never arrives cannot hang the others.
 */
export function arriveAndWait(gate: Int32Array, parties: number, ms = 5_000): void {
  add(gate, 0, 1);
  notify(gate, 0);
  const deadline = performance.now() + ms;
  for (let arrived = load(gate, 0); arrived < parties; arrived = load(gate, 0)) {
    const left = deadline - performance.now();
    if (left <= 0) throw new Error(`start barrier: only ${arrived} of ${parties} workers arrived within ${ms} ms`);
    // Sleeps only while the count is still `arrived`: an arrival in between makes it return at once.
    wait(gate, 0, arrived, left);
  }
}
