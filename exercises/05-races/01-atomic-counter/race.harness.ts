// The tests' worker: one of several threads that increment one shared counter, all released at
// the same moment by a start barrier, so that their increments really collide.
import { parentPort, workerData } from 'node:worker_threads';
import { arriveAndWait } from '#kata/inside/start-barrier.ts';
import { targetUrl } from '#kata/inside/target.ts';

interface RaceData {
  counter: Int32Array;
  times: number;
  /** `learner`: the increment() under test; `plain`: counter[0]++, to show what it loses. */
  increment: 'learner' | 'plain';
  gate: Int32Array;
  parties: number;
}
type Increment = (counter: Int32Array, index: number, times: number) => void;

const { counter, times, increment: which, gate, parties } = workerData as RaceData;

function plainIncrement(counter: Int32Array, index: number, times: number): void {
  for (let done = 0; done < times; done += 1) counter[index]!++;
}

function race(increment: Increment): void {
  arriveAndWait(gate, parties);
  parentPort!.postMessage({ type: 'started' });
  increment(counter, 0, times);
  parentPort!.postMessage({ type: 'done' });
}

// No top-level await (CONTRIBUTING, rule 8: Node crashes if a test stops a worker as its async module starts).
if (which === 'plain') race(plainIncrement);
else void import(targetUrl(import.meta.url, './counter.ts').href).then((learner: { increment: Increment }) => race(learner.increment));
